package loginhost

import "testing"

func TestDefaultPolicy(t *testing.T) {
	p, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url   string
		allow bool
	}{
		{"https://login.salesforce.com", true},
		{"https://login.salesforce.com/", true},
		{"https://test.salesforce.com", true},
		{"https://LOGIN.salesforce.com", true},
		{"https://acme.my.salesforce.com", true},
		{"https://acme--uat.sandbox.my.salesforce.com", true},
		{"https://acme-dev-ed.develop.my.salesforce.com", true},
		{"https://acme.my.site.com", true},
		{"https://acme.my.salesforce.mil", true},
		{"https://login.salesforce.com:443", true},
		{"https://my.salesforce.com", false},
		{"https://login.salesforce.com:8443", false},
		{"http://login.salesforce.com", false},
		{"https://evil.example.com", false},
		{"https://login.salesforce.com.evil.example.com", false},
		{"https://acme.my.salesforce.com.evil.io", false},
		{"https://user:pw@login.salesforce.com", false},
		{"https://login.salesforce.com/services/oauth2/token", false},
		{"https://login.salesforce.com?x=1", false},
		{"ftp://login.salesforce.com", false},
		{"http://127.0.0.1:8080", false},
		{"https://na1.salesforce.com", false},
		{"HTTPS://login.salesforce.com", false},
		{"https://login.salesforce.com:", false},
		{"https://login%2esalesforce.com", false},
		{"https://login.salesforce.com\n", false},
		{"https://login.salesforce.com.", false},
		{"https://login.salesforce.com#", false},
		{"https://login.salesforce.com?", false},
		{"", false},
		{"::", false},
	}
	for _, tt := range tests {
		err := p.Check(tt.url)
		if (err == nil) != tt.allow {
			t.Errorf("Check(%q) = %v, want allowed=%v", tt.url, err, tt.allow)
		}
	}
}

func TestLoopbackNamedExplicitly(t *testing.T) {
	p, err := Parse([]string{"127.0.0.1", "[::1]", "localhost:9000", "*.my.salesforce.com"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url   string
		allow bool
	}{
		{"http://127.0.0.1:18080", true},
		{"http://127.0.0.1", true},
		{"http://[::1]:8080", true},
		{"https://127.0.0.1:18443", true},
		{"http://localhost:9000", true},
		{"http://localhost:9001", false},
		{"httP://127.0.0.1", false},
		{"http://127.0.0.2:18080", false},
		{"http://acme.my.salesforce.com", false},
		{"https://acme.my.salesforce.com", true},
		{"https://login.salesforce.com", false},
	}
	for _, tt := range tests {
		err := p.Check(tt.url)
		if (err == nil) != tt.allow {
			t.Errorf("Check(%q) = %v, want allowed=%v", tt.url, err, tt.allow)
		}
	}
}

func TestCheckInstance(t *testing.T) {
	p, err := Parse(append([]string{"127.0.0.1"}, DefaultPatterns...))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url   string
		allow bool
	}{
		{"https://acme.my.salesforce.com", true},
		{"https://na1.salesforce.com", true},
		{"https://acme.lightning.force.com", true},
		{"http://127.0.0.1:18080", true},
		{"http://na1.salesforce.com", false},
		{"https://salesforce.com.evil.io", false},
		{"https://evil.io", false},
		{"https://na1.salesforce.com:8443", false},
		{"https://u@na1.salesforce.com", false},
		{"https://.salesforce.com", false},
		{"", false},
	} {
		if err := p.CheckInstance(tt.url); (err == nil) != tt.allow {
			t.Errorf("CheckInstance(%q) = %v, want allowed=%v", tt.url, err, tt.allow)
		}
	}
}

func TestParseToleratesSchemes(t *testing.T) {
	p, err := Parse([]string{"http://127.0.0.1:8080/", "https://login.salesforce.com"})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check("http://127.0.0.1:8080"); err != nil {
		t.Error(err)
	}
	if err := p.Check("https://login.salesforce.com"); err != nil {
		t.Error(err)
	}
	if err := p.Check("http://login.salesforce.com"); err == nil {
		t.Error("a scheme in a pattern must not allow http for a remote host")
	}
}

func TestParseRejectsBadPatterns(t *testing.T) {
	for _, bad := range [][]string{
		{"*"},
		{"*.com"},
		{"a.*.com"},
		{"log*.salesforce.com"},
		{"https://login.salesforce.com/services"},
		{"user@host"},
		{" ", ""},
	} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", bad)
		}
	}
}

func FuzzCheck(f *testing.F) {
	p, err := Parse(append([]string{"127.0.0.1"}, DefaultPatterns...))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"https://login.salesforce.com", "http://127.0.0.1:1", "https://a.my.salesforce.com:443", "https://x@y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if p.Check(s) != nil {
			return
		}
		// Whatever passes must be a plain scheme://host[:port] URL of an allowed shape.
		if !(len(s) > 8 && (s[:8] == "https://" || s[:7] == "http://")) {
			t.Fatalf("allowed %q, which is not http(s)", s)
		}
	})
}
