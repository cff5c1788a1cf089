package salesforce

import "testing"

func TestParseIdentityURL(t *testing.T) {
	tests := []struct {
		in, org, user string
		wantErr       bool
	}{
		{in: sampleID, org: "00D58000000arpqEAA", user: "00558000000yFyDAAU"},
		{in: "https://login.salesforce.com/id/00Dx0000000BV7z/005x00000012Q9P", org: "00Dx0000000BV7z", user: "005x00000012Q9P"},
		{in: "https://test.salesforce.com/id/00D58000000arpqEAA/00558000000yFyDAAU", org: "00D58000000arpqEAA", user: "00558000000yFyDAAU"},
		{in: "https://acme.my.salesforce.com/id/00D58000000arpqEAA/00558000000yFyDAAU/", org: "00D58000000arpqEAA", user: "00558000000yFyDAAU"},
		{in: "https://login.salesforce.com/id/00D58000000arpqEAA/00558000000yFyDAAU?version=60.0", org: "00D58000000arpqEAA", user: "00558000000yFyDAAU"},
		{in: "", wantErr: true},
		{in: "00D58000000arpqEAA/00558000000yFyDAAU", wantErr: true},
		{in: "https://login.salesforce.com/id/00558000000yFyDAAU", wantErr: true},
		{in: "https://login.salesforce.com/id/00558000000yFyDAAU/00D58000000arpqEAA", wantErr: true}, // swapped
		{in: "https://login.salesforce.com/id/00D58000000arp/00558000000yFyDAAU", wantErr: true},     // 14 chars
		{in: "https://login.salesforce.com/id/00D58000000arpqEA/00558000000yFyDAAU", wantErr: true},  // 17 chars
		{in: "https://login.salesforce.com/id/00D58000000arpqEAA/00558000000yFyD-AU", wantErr: true}, // not alphanumeric
		{in: "https://login.salesforce.com/id/00D58000000arpqEAA/", wantErr: true},
		{in: "ftp://login.salesforce.com/id/00D58000000arpqEAA/00558000000yFyDAAU", wantErr: true},
		{in: "https://login.salesforce.com/id/00D58000000arpqEAA/00558000000yFyDAAU%zz", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			org, user, err := ParseIdentityURL(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Errorf("got (%q, %q), want an error", org, user)
				}
				if org != "" || user != "" {
					t.Errorf("ids returned with an error: %q %q", org, user)
				}
				return
			}
			if err != nil || org != tt.org || user != tt.user {
				t.Errorf("got (%q, %q, %v), want (%q, %q)", org, user, err, tt.org, tt.user)
			}
		})
	}
}
