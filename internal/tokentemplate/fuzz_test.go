package tokentemplate

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

var (
	fence      = regexp.MustCompile("(?ms)^```ya?ml[^\n]*\n(.*?)^```")
	inlineCode = regexp.MustCompile("`([^`\n]*\\{\\{[^`\n]*)`")
)

// docTemplates are the data templates of the documentation: those of the manifests
// (spec.tokenSecret.template.data in ```yaml blocks of README.md and docs/), and the
// inline code spans holding {{ (examples of mistakes among them).
func docTemplates(t testing.TB) (manifests, inline []string) {
	t.Helper()
	root := filepath.Join("..", "..")
	files := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".md") {
			files = append(files, path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range fence.FindAllStringSubmatch(string(b), -1) {
			for doc := range strings.SplitSeq(m[1], "\n---\n") {
				var obj struct {
					Spec struct {
						TokenSecret struct {
							Template struct {
								Data map[string]string `json:"data"`
							} `json:"template"`
						} `json:"tokenSecret"`
					} `json:"spec"`
				}
				if yaml.Unmarshal([]byte(doc), &obj) != nil {
					continue // not an object; test/docs checks the blocks
				}
				for _, k := range sortedKeys(obj.Spec.TokenSecret.Template.Data) {
					manifests = append(manifests, obj.Spec.TokenSecret.Template.Data[k])
				}
			}
		}
		for _, m := range inlineCode.FindAllStringSubmatch(string(b), -1) {
			inline = append(inline, m[1])
		}
	}
	return manifests, inline
}

// TestDocsTemplates: the templates the documentation shows work.
func TestDocsTemplates(t *testing.T) {
	manifests, _ := docTemplates(t)
	if len(manifests) < 4 {
		t.Fatalf("found %d templates in the docs; the extraction is broken", len(manifests))
	}
	for _, text := range manifests {
		tmpl := tmplOf(map[string]string{"k": text})
		if err := Check(tmpl); err != nil {
			t.Errorf("Check(%q): %v", text, err)
		}
		if _, err := Render(tmpl, fields()); err != nil {
			t.Errorf("Render(%q): %v", text, err)
		}
	}
}

// FuzzTemplate: whatever the template and the token, Check and Render return in time,
// within the memory budget, without panicking; Render's error never quotes the token, and
// fails only for the token's sake when Check passed; what Render returns is within the caps.
//
// The text holds up to three templates, separated by NUL bytes. The access token is
// "00Dtok!" followed by the letters, digits, '.', '_' and '-' of the fuzzer's token, so that
// it can be told apart from the words of an error; the instance URL is any string.
func FuzzTemplate(f *testing.F) {
	manifests, inline := docTemplates(f)
	seeds := append(append(append([]string{}, bombs...), manifests...), inline...)
	seeds = append(seeds,
		`{{ .InstanceURL | trimPrefix "https://" | upper }} {{ quote .OrgID }} {{ .ExpiresAtUnix }}`,
		`{{ json .AccessToken }}{{ b64enc .AccessToken }}{{ replace "!" "%21" .AccessToken }}`,
		"{{ json .ExpiresAtUnix }}\x00{{ lower .InstanceURL }}\x00{{ trimSuffix \".com\" .InstanceURL }}",
		issuedTokenTooLong,
	)
	sample := fields()
	for _, s := range seeds {
		f.Add(s, "secret-token-value", sample.InstanceURL, sample.ExpiresAtUnix)
	}
	f.Add(`{{ .InstanceURL }}`, "x", "\xff<\u2028>\x00\"", int64(-1))

	f.Fuzz(func(t *testing.T, text, token, instanceURL string, unix int64) {
		texts := strings.SplitN(text, "\x00", 3)
		if len(texts) > 1 && utf8.RuneCountInString(text) > MaxTemplateChars {
			// Within the budgets is promised per key of up to MaxTemplateChars.
			return
		}
		data := map[string]string{}
		for i, s := range texts {
			data[fmt.Sprintf("k%d", i)] = s
		}
		tmpl := tmplOf(data)
		values := fields()
		values.AccessToken = "00Dtok!" + strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
				return r
			}
			return -1
		}, token)
		values.InstanceURL = instanceURL
		values.ExpiresAtUnix = unix

		checkErr := within(t, "Check", func() error { return Check(tmpl) })
		var out map[string][]byte
		renderErr := within(t, "Render", func() error {
			var err error
			out, err = Render(tmpl, values)
			return err
		})

		for _, err := range []error{checkErr, renderErr} {
			if err != nil && !strings.HasPrefix(err.Error(), "spec.tokenSecret.template.data[") {
				t.Fatalf("error without the key: %v", err)
			}
		}
		if renderErr != nil {
			if !strings.Contains(text, values.AccessToken) && strings.Contains(renderErr.Error(), values.AccessToken) {
				t.Fatalf("Render's error quotes the token: %v", renderErr)
			}
			if checkErr == nil && !strings.Contains(renderErr.Error(), "could not be rendered with the issued token") {
				t.Fatalf("Check passed but Render failed for the template's sake: %v", renderErr)
			}
		} else {
			total := 0
			for k, v := range out {
				if len(v) > MaxKeyBytes {
					t.Fatalf("key %s holds %d bytes", k, len(v))
				}
				total += len(v)
			}
			if total > MaxTotalBytes || len(out) != len(data) {
				t.Fatalf("%d keys of %d bytes in all", len(out), total)
			}
		}
		lengthsMatch(t, token)
		lengthsMatch(t, instanceURL)
	})
}
