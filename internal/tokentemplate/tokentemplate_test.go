package tokentemplate

import (
	"strings"
	"testing"
	"time"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func fields() Fields {
	f := NewFields(time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	f.AccessToken = "00Dxx!secret-token-value"
	f.InstanceURL = "https://acme.my.salesforce.com"
	f.TokenType = "Bearer"
	f.OrgID, f.UserID = "00Dxx0000001gPLEAY", "005xx000001Sv6AAAS"
	f.Name, f.Namespace = "crm", "billing"
	return f
}

func TestRender(t *testing.T) {
	cases := []struct {
		name string
		data map[string]string
		want map[string]string
	}{
		{"env file", map[string]string{".env": "SF_INSTANCE_URL={{ .InstanceURL }}\nSF_ACCESS_TOKEN={{ .AccessToken }}\n"},
			map[string]string{".env": "SF_INSTANCE_URL=https://acme.my.salesforce.com\nSF_ACCESS_TOKEN=00Dxx!secret-token-value\n"}},
		{"jsforce json", map[string]string{"jsforce.json": `{"instanceUrl": {{ json .InstanceURL }}, "accessToken": {{ json .AccessToken }}}`},
			map[string]string{"jsforce.json": `{"instanceUrl": "https://acme.my.salesforce.com", "accessToken": "00Dxx!secret-token-value"}`}},
		{"single value", map[string]string{"SALESFORCE_INSTANCE_URL": "{{ .InstanceURL }}"},
			map[string]string{"SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com"}},
		{"functions", map[string]string{"x": `{{ .InstanceURL | trimPrefix "https://" | upper }} {{ quote .OrgID }} {{ .ExpiresAtUnix }} {{ replace "." "-" .Name }} {{ b64enc "a" }} {{ lower "AB" }} {{ trimSuffix ".com" .InstanceURL }}`},
			map[string]string{"x": `ACME.MY.SALESFORCE.COM "00Dxx0000001gPLEAY" 1795608000 crm YQ== ab https://acme.my.salesforce`}},
		{"connection", map[string]string{"who": "{{ .Namespace }}/{{ .Name }} {{ .IssuedAt }}"},
			map[string]string{"who": "billing/crm 2026-11-25T10:00:00Z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := &sfv1.TokenSecretTemplate{Data: tc.data}
			if err := Check(tmpl); err != nil {
				t.Fatalf("Check: %v", err)
			}
			got, err := Render(tmpl, fields())
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("rendered %d keys, want %d", len(got), len(tc.want))
			}
			for k, v := range tc.want {
				if string(got[k]) != v {
					// Test values are not real secrets; printing them helps.
					t.Errorf("key %q = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}

func TestCheckRefusesBadTemplates(t *testing.T) {
	cases := []struct {
		name string
		tmpl sfv1.TokenSecretTemplate
		want string
	}{
		{"parse error", sfv1.TokenSecretTemplate{Data: map[string]string{"a": "{{ .InstanceURL "}}, `data["a"]`},
		{"unknown field", sfv1.TokenSecretTemplate{Data: map[string]string{"b": "{{ .RefreshToken }}"}}, "RefreshToken"},
		{"unknown function", sfv1.TokenSecretTemplate{Data: map[string]string{"c": "{{ env \"HOME\" }}"}}, `function "env" not defined`},
		{"bad label value", sfv1.TokenSecretTemplate{Metadata: sfv1.TemplateMetadata{Labels: map[string]string{"team": "a b"}}}, `label "team" value`},
		{"bad label key", sfv1.TokenSecretTemplate{Metadata: sfv1.TemplateMetadata{Labels: map[string]string{"-x": "y"}}}, `label key "-x"`},
		{"bad annotation key", sfv1.TokenSecretTemplate{Metadata: sfv1.TemplateMetadata{Annotations: map[string]string{"a/b/c": "y"}}}, `annotation key "a/b/c"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(&tc.tmpl)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestRenderErrorNeverQuotesTheToken(t *testing.T) {
	f := fields()
	// Passes Check (the placeholder token is long) but fails on a short real token.
	tmpl := &sfv1.TokenSecretTemplate{Data: map[string]string{"k": "{{ slice .AccessToken 100 }}"}}
	if err := Check(tmpl); err != nil {
		t.Fatalf("Check: %v", err)
	}
	_, err := Render(tmpl, f)
	if err == nil {
		t.Fatal("Render succeeded, want an error")
	}
	if strings.Contains(err.Error(), f.AccessToken) || !strings.Contains(err.Error(), `data["k"]`) {
		t.Fatalf("error must name the key and not the token: %q", err)
	}
}

func TestNilTemplate(t *testing.T) {
	if err := Check(nil); err != nil {
		t.Fatal(err)
	}
	got, err := Render(nil, fields())
	if err != nil || got != nil {
		t.Fatalf("Render(nil) = %v, %v", got, err)
	}
}
