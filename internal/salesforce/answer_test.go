package salesforce

import (
	"testing"
	"time"
)

func TestParseTokenAnswerIssuedAt(t *testing.T) {
	sample := time.UnixMilli(1609942615640)
	tests := []struct {
		name     string
		issuedAt string // JSON value, or empty for absent
		want     time.Time
		wantRaw  string
	}{
		{"string of milliseconds", `"1609942615640"`, sample, "1609942615640"},
		{"JSON number", `1609942615640`, sample, "1609942615640"},
		{"JSON number with exponent", `1.60994261564e12`, sample, "1.60994261564e12"},
		{"absent", ``, testNow, ""},
		{"null", `null`, testNow, ""},
		{"in the future: receive time", `"1609942680000"`, testNow, "1609942680000"},
		{"over 24h old: receive time", `"1609800000000"`, testNow, "1609800000000"},
		{"zero", `"0"`, testNow, "0"},
		{"negative", `-5`, testNow, "-5"},
		{"not a number", `"yesterday"`, testNow, "yesterday"},
		{"fraction", `1609942615640.5`, testNow, "1609942615640.5"},
		{"object", `{}`, testNow, ""},
		{"bool", `true`, testNow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"access_token":"00Dx!AQ","id":"` + sampleID + `"`
			if tt.issuedAt != "" {
				body += `,"issued_at":` + tt.issuedAt
			}
			body += "}"
			tok, err := parseTokenAnswer([]byte(body), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if !tok.IssuedAt.Equal(tt.want) || tok.IssuedAtRaw != tt.wantRaw {
				t.Errorf("got (%v, %q), want (%v, %q)", tok.IssuedAt, tok.IssuedAtRaw, tt.want, tt.wantRaw)
			}
		})
	}
}

func TestParseTokenAnswerToleratesBadIdentityURL(t *testing.T) {
	// The org and user ids are informational; a login Salesforce counted must not fail
	// because the id looks odd.
	tok, err := parseTokenAnswer([]byte(`{"access_token":"00Dx!AQ","id":"https://login.salesforce.com/id/nope"}`), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if tok.OrgID != "" || tok.UserID != "" || tok.ID != "https://login.salesforce.com/id/nope" {
		t.Errorf("got %+v", tok)
	}
}
