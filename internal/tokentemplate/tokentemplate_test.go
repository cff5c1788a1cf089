package tokentemplate

import (
	"errors"
	"fmt"
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

// tmplOf is a template with these data templates.
func tmplOf(data map[string]string) *sfv1.TokenSecretTemplate {
	t := &sfv1.TokenSecretTemplate{Data: make(map[string]sfv1.TemplateText, len(data))}
	for k, v := range data {
		t.Data[k] = sfv1.TemplateText(v)
	}
	return t
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
		{"simple-salesforce json", map[string]string{"simple-salesforce.json": `{"instance_url": {{ json .InstanceURL }}, "session_id": {{ json .AccessToken }}}`},
			map[string]string{"simple-salesforce.json": `{"instance_url": "https://acme.my.salesforce.com", "session_id": "00Dxx!secret-token-value"}`}},
		{"single value", map[string]string{"SALESFORCE_INSTANCE_URL": "{{ .InstanceURL }}"},
			map[string]string{"SALESFORCE_INSTANCE_URL": "https://acme.my.salesforce.com"}},
		{"functions", map[string]string{"x": `{{ .InstanceURL | trimPrefix "https://" | upper }} {{ quote .OrgID }} {{ .ExpiresAtUnix }} {{ replace "." "-" .Name }} {{ b64enc "a" }} {{ lower "AB" }} {{ trimSuffix ".com" .InstanceURL }}`},
			map[string]string{"x": `ACME.MY.SALESFORCE.COM "00Dxx0000001gPLEAY" 1795608000 crm YQ== ab https://acme.my.salesforce`}},
		{"connection", map[string]string{"who": "{{ .Namespace }}/{{ .Name }} {{ .IssuedAt }}"},
			map[string]string{"who": "billing/crm 2026-11-25T10:00:00Z"}},
		{"authorization header", map[string]string{"auth": `{{ .TokenType }} {{ .AccessToken }}`},
			map[string]string{"auth": "Bearer 00Dxx!secret-token-value"}},
		{"basic auth in base64", map[string]string{"b": `{{ b64enc .AccessToken }}`},
			map[string]string{"b": "MDBEeHghc2VjcmV0LXRva2VuLXZhbHVl"}},
		{"json of numbers and escapes", map[string]string{"j": `{{ json .ExpiresAtUnix }} {{ json 1.5 }} {{ json 7 }} {{ json "<a&b>\n" }}`},
			map[string]string{"j": `1795608000 1.5 7 "\u003ca\u0026b\u003e\n"`}},
		{"quote escapes", map[string]string{"q": "{{ quote \"a\\\"b\\n\" }}"},
			map[string]string{"q": `"a\"b\n"`}},
		{"nested calls", map[string]string{"n": `{{ quote (upper (trimPrefix "https://" .InstanceURL)) }}`},
			map[string]string{"n": `"ACME.MY.SALESFORCE.COM"`}},
		{"nested 8 deep", map[string]string{"n": `{{ upper (upper (upper (upper (upper (upper (upper (upper (upper .Name)))))))) }}`},
			map[string]string{"n": "CRM"}},
		{"literals", map[string]string{"l": "{{ \"s\" }} {{ `raw` }} {{ 42 }} {{ 1.5 }} {{ 0x10 }} {{ 'a' }}"},
			map[string]string{"l": "s raw 42 1.5 16 97"}},
		{"comments and trim markers", map[string]string{"c": "a {{- /* a comment */ -}} b {{- .Name -}} c"},
			map[string]string{"c": "abcrmc"}},
		{"a literal piped", map[string]string{"p": `{{ "abc" | upper | quote }}`},
			map[string]string{"p": `"ABC"`}},
		{"replace with an empty old", map[string]string{"r": `{{ replace "" "-" "ab" }}`},
			map[string]string{"r": "-a-b-"}},
		{"plain text", map[string]string{"t": "no action at all"}, map[string]string{"t": "no action at all"}},
		{"empty", map[string]string{"e": ""}, map[string]string{"e": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := tmplOf(tc.data)
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

// TestRefused: every construct outside the grammar is refused, by Check and by Render,
// with an error that names the key and says what is wrong.
func TestRefused(t *testing.T) {
	cases := []struct {
		name, text, want string
	}{
		{"range over a number", `{{range 100000000000}}{{end}}`, "line 1, column 1: {{range}} is not allowed"},
		{"range with variables", `{{ range $i, $c := .Name }}{{ $c }}{{ end }}`, "{{range}} is not allowed"},
		{"if", `x{{if .Name}}y{{else}}z{{end}}`, "line 1, column 2: {{if}} is not allowed"},
		{"with", "\n{{- with .Name }}{{ . }}{{ end }}", "line 2, column 1: {{with}} is not allowed"},
		{"define", `{{define "x"}}a{{end}}`, "{{define}} and {{block}} are not allowed"},
		{"define named like the key", `{{define "k"}}{{range 9}}a{{end}}{{end}}`, "{{define}} and {{block}} are not allowed"},
		{"template", `{{template "k"}}`, "{{template}} and {{block}} are not allowed"},
		{"block", `{{block "b" .}}a{{end}}`, "{{define}} and {{block}} are not allowed"},
		{"declaration", `{{ $x := .AccessToken }}{{ $x }}`, "variables ($x := ..., $x = ...) are not allowed"},
		{"assignment", `{{ $x = .AccessToken }}`, "variables ($x := ..., $x = ...) are not allowed"},
		{"dollar", `{{ $ }}`, "variables ($, $x) are not allowed"},
		{"dollar field", `{{ $.AccessToken }}`, "variables ($, $x) are not allowed"},
		{"dot", `{{ . }}`, "the dot alone ({{.}}) is not allowed"},
		{"json of the dot", `{{ json . }}`, "the dot alone ({{.}}) is not allowed"},
		{"field of a result", `{{ (upper .Name).Foo }}`, "a field of a result ((...).Field) is not allowed"},
		{"unknown field", `{{ .RefreshToken }}`, "unknown field .RefreshToken; the fields are .AccessToken, .InstanceURL"},
		{"field of a field", `{{ .AccessToken.Foo }}`, "unknown field .AccessToken.Foo"},
		{"bool", `{{ json true }}`, "true, false and nil are not allowed"},
		{"nil", `{{ json nil }}`, "true, false and nil are not allowed"},
		{"complex", `{{ 1i }}`, "complex number 1i is not allowed"},
		{"field with arguments", `{{ .Name "x" }}`, ".Name is not a function and takes no arguments"},
		{"field as a pipeline stage", `{{ "x" | .Name }}`, ".Name is not a function and takes no arguments"},
		{"nested 9 deep", `{{ upper (upper (upper (upper (upper (upper (upper (upper (upper (upper .Name))))))))) }}`, "parentheses nest more than 8 deep"},
		{"unknown function", `{{ env "HOME" }}`, `function "env" is not allowed; the functions are json, quote, upper, lower, trimPrefix, trimSuffix, replace and b64enc`},
		{"unknown function as an argument", `{{ upper env }}`, `function "env" is not allowed`},
		{"too many arguments", `{{ upper "a" "b" }}`, "line 1, column 4: upper takes 1 argument(s), not 2: upper STRING"},
		{"too few arguments in a pipeline", `{{ .Name | replace "a" }}`, "replace takes 3 argument(s), not 2: replace OLD NEW STRING (after a |, the value piped in is the last one)"},
		{"too many arguments in a pipeline", `{{ .Name | trimPrefix "a" "b" }}`, "trimPrefix takes 2 argument(s), not 3"},
		{"a function as an argument", `{{ quote upper }}`, "upper takes 1 argument(s), not 0: upper STRING; put a call in an argument between parentheses"},
		{"syntax error", `{{ .InstanceURL `, "unclosed action"},
		{"break", `{{break}}`, "{{break}} outside {{range}}"},
	}
	for _, builtin := range []string{"printf", "print", "println", "index", "slice", "len", "call", "and", "or", "not",
		"eq", "ne", "lt", "le", "gt", "ge", "html", "js", "urlquery"} {
		cases = append(cases, struct{ name, text, want string }{builtin, fmt.Sprintf(`{{ %s .Name }}`, builtin),
			fmt.Sprintf(`line 1, column 4: function %q is not allowed`, builtin)})
	}
	cases = append(cases, struct{ name, text, want string }{"printf in a pipeline", `{{ .Name | printf "%s" }}`, `function "printf" is not allowed`})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := tmplOf(map[string]string{"ok": "{{ .Name }}", "k": tc.text})
			want := `spec.tokenSecret.template.data["k"]: `
			err := Check(tmpl)
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %q...%q", err, want, tc.want)
			}
			_, err = Render(tmpl, fields())
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render = %v, want %q...%q", err, want, tc.want)
			}
		})
	}
}

func TestCheckRefusesBadMetadata(t *testing.T) {
	cases := []struct {
		name string
		tmpl sfv1.TokenSecretTemplate
		want string
	}{
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

// repeat is a literal of n letters a.
func repeat(n int) string { return strings.Repeat("a", n) }

// grow is a template action that renders n bytes (n a multiple of 16) from a short literal:
// replace turns each of n/16 letters into 16.
func grow(n int) string {
	return fmt.Sprintf(`{{ replace "a" %q %q }}`, repeat(16), repeat(n/16))
}

// issuedTokenTooLong renders about 112 bytes with the placeholder token, which has no e and
// no a, and 72021 bytes with the token of fields(), which has four e and one a.
var issuedTokenTooLong = fmt.Sprintf(`{{ replace "a" "aa" (replace "e" %q .AccessToken) }}`, repeat(9000))

func TestCaps(t *testing.T) {
	many := func(n int, text string) map[string]string {
		data := map[string]string{}
		for i := range n {
			data[fmt.Sprintf("k%02d", i)] = text
		}
		return data
	}
	cases := []struct {
		name  string
		data  map[string]string
		key   string // the key the error names; "" when the template is within the caps
		want  string
		check bool // Check refuses too (false: only the issued token breaks a cap)
	}{
		{"a key of exactly 64 KiB", map[string]string{"k": grow(MaxKeyBytes)}, "", "", true},
		{"a key of 64 KiB and one byte", map[string]string{"k": grow(MaxKeyBytes) + "x"}, "k",
			"the rendered value would be longer than 65536 bytes, the most a key may hold", true},
		{"one function result over a key", map[string]string{"k": fmt.Sprintf(`{{ replace "a" %q %q | trimPrefix "a" }}`, repeat(17), repeat(MaxKeyBytes/16))}, "k",
			"the result of replace would be longer than 65536 bytes, the most a key may hold", true},
		{"b64enc over a key", map[string]string{"k": fmt.Sprintf(`{{ b64enc (replace "a" %q %q) }}`, repeat(16), repeat(3073))}, "k",
			"the result of b64enc would be longer than 65536 bytes", true},
		{"quote over a key", map[string]string{"k": fmt.Sprintf(`{{ quote (replace "a" "\x01\x01\x01\x01" %q) }}`, repeat(4096))}, "k",
			"the result of quote would be longer than 65536 bytes", true},
		{"json over a key", map[string]string{"k": fmt.Sprintf(`{{ json (replace "a" "<<<<" %q) }}`, repeat(4096))}, "k",
			"the result of json would be longer than 65536 bytes", true},
		{"upper over a key", map[string]string{"k": fmt.Sprintf(`{{ upper (replace "a" "\xff\xff\xff\xff\xff\xff" %q) }}`, repeat(4096))}, "k",
			"the result of upper would be longer than 65536 bytes", true},
		{"four keys of 64 KiB", many(4, grow(MaxKeyBytes)), "", "", true},
		{"five keys of 60 KiB", many(5, grow(60<<10)), "k04",
			"the keys would hold more than 262144 bytes in all, the most a template may render", true},
		// Each key reads and returns 135186 bytes, and prints nothing.
		{"functions over their budget", many(4, fmt.Sprintf(`{{ replace "a" "" (replace "a" %q %q) }}`, repeat(16), repeat(MaxKeyBytes/16))), "k03",
			"the functions would read and return more than 524288 bytes in all", true},
		{"a template of 16384 characters", map[string]string{"k": strings.Repeat("é", MaxTemplateChars)}, "", "", true},
		{"a template of 16385 characters", map[string]string{"k": strings.Repeat("é", MaxTemplateChars+1)}, "k",
			"the template is longer than 16384 characters", true},
		{"a cap only the issued token breaks", map[string]string{"k": issuedTokenTooLong}, "k",
			"could not be rendered with the issued token: the result of replace would be longer than 65536 bytes", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tmpl := tmplOf(tc.data)
			err := Check(tmpl)
			if tc.key == "" || !tc.check {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
			} else if want := fmt.Sprintf("spec.tokenSecret.template.data[%q]", tc.key); err == nil ||
				!strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Check = %v, want %s...%s", err, want, tc.want)
			}
			f := fields()
			got, err := Render(tmpl, f)
			if tc.key == "" {
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				total := 0
				for k, v := range got {
					if len(v) > MaxKeyBytes {
						t.Errorf("key %q has %d bytes", k, len(v))
					}
					total += len(v)
				}
				if total > MaxTotalBytes {
					t.Errorf("%d bytes in all", total)
				}
				return
			}
			if want := fmt.Sprintf("spec.tokenSecret.template.data[%q]", tc.key); err == nil ||
				!strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Render = %v, want %s...%s", err, want, tc.want)
			}
			if strings.Contains(err.Error(), f.AccessToken) {
				t.Fatalf("Render quoted the token: %v", err)
			}
			var limit *LimitError
			if !errors.As(err, &limit) {
				t.Fatalf("Render's error %v holds no LimitError", err)
			}
		})
	}
}

func TestTooManyKeys(t *testing.T) {
	data := map[string]string{}
	for i := range MaxKeys + 1 {
		data[fmt.Sprintf("k%d", i)] = "x"
	}
	err := Check(tmplOf(data))
	if err == nil || err.Error() != "spec.tokenSecret.template.data: 33 keys, more than the 32 allowed" {
		t.Fatalf("Check = %v", err)
	}
}

func TestRenderRefusesAFieldLongerThanAKey(t *testing.T) {
	f := fields()
	f.AccessToken = "00D!" + strings.Repeat("s", MaxKeyBytes)
	tmpl := tmplOf(map[string]string{"url": "{{ .InstanceURL }}", "k": `{{ .AccessToken | trimPrefix "00D!" }}`})
	_, err := Render(tmpl, f)
	want := `spec.tokenSecret.template.data["k"] could not be rendered with the issued token: .AccessToken is longer than 65536 bytes, the most a key may hold`
	if err == nil || err.Error() != want {
		t.Fatalf("Render = %v, want %s", err, want)
	}
	// A template that does not read the long field renders.
	if _, err := Render(tmplOf(map[string]string{"url": "{{ .InstanceURL }}"}), f); err != nil {
		t.Fatal(err)
	}
}

func TestRenderErrorNeverQuotesTheToken(t *testing.T) {
	f := fields()
	for _, text := range []string{
		// Fine with the placeholder token, too long with the issued one.
		issuedTokenTooLong,
		// Refused before it runs: the message quotes the template, never a value.
		`{{ printf "%s" .AccessToken }}`,
		`{{ .AccessToken.X }}`,
	} {
		tmpl := tmplOf(map[string]string{"k": text})
		_, err := Render(tmpl, f)
		if err == nil {
			t.Fatalf("Render(%.40q) succeeded, want an error", text)
		}
		if strings.Contains(err.Error(), f.AccessToken) || !strings.Contains(err.Error(), `data["k"]`) {
			t.Fatalf("error must name the key and not the token: %q", err)
		}
	}
}

func TestErrorsAreClipped(t *testing.T) {
	long := repeat(MaxTemplateChars)
	for _, text := range []string{
		`{{ "` + long[:MaxTemplateChars-20] + `" "x" }}`,                                     // refused by the grammar
		`{{ b64enc (replace "a" "aaaaaaaaaaaaaaaa" "` + long[:MaxTemplateChars-60] + `") }}`, // a cap
	} {
		err := Check(tmplOf(map[string]string{"k": text}))
		if err == nil {
			t.Fatalf("Check(%.40q...) succeeded", text)
		}
		if msg := err.Error(); len(msg) > maxErrorChars+100 || !strings.Contains(msg, " ... ") ||
			!strings.HasSuffix(msg, "the most a key may hold") && !strings.HasSuffix(msg, "replace and b64enc") {
			t.Fatalf("error of %d characters: %v", len(msg), msg)
		}
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
