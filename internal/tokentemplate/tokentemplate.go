// Package tokentemplate renders the extra keys of a token Secret from Go templates
// (spec.tokenSecret.template), so workloads get the token in the shape their Salesforce
// library reads: a .env file, a JSON document, one variable per key.
package tokentemplate

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// Fields are what a template can read. They are the token Secret's fixed keys and a few
// facts about the connection.
type Fields struct {
	AccessToken string
	InstanceURL string
	TokenType   string
	// IssuedAt and ExpiresAt are RFC 3339, as in the token Secret.
	IssuedAt      string
	ExpiresAt     string
	IssuedAtUnix  int64
	ExpiresAtUnix int64
	ID            string
	OrgID         string
	UserID        string
	// Name and Namespace are the connection's.
	Name      string
	Namespace string
}

// NewFields fills the time fields from the token's issue and expiry times.
func NewFields(issuedAt, expiresAt time.Time) Fields {
	return Fields{
		IssuedAt:      issuedAt.UTC().Format(time.RFC3339),
		ExpiresAt:     expiresAt.UTC().Format(time.RFC3339),
		IssuedAtUnix:  issuedAt.Unix(),
		ExpiresAtUnix: expiresAt.Unix(),
	}
}

// placeholder stands in for a token when a template is checked before any token exists:
// values as long and shaped as real ones, so a template that renders with them renders
// with a real token too.
var placeholder = Fields{
	AccessToken:   "00D000000000001!" + strings.Repeat("A", 96),
	InstanceURL:   "https://example.my.salesforce.com",
	TokenType:     "Bearer",
	IssuedAt:      "2026-01-01T00:00:00Z",
	ExpiresAt:     "2026-01-01T02:00:00Z",
	IssuedAtUnix:  1767225600,
	ExpiresAtUnix: 1767232800,
	ID:            "https://login.salesforce.com/id/00D000000000001AAA/005000000000001AAA",
	OrgID:         "00D000000000001AAA",
	UserID:        "005000000000001AAA",
	Name:          "example",
	Namespace:     "default",
}

// Check says whether the template can be used, without a token: it parses every data
// template, refuses what the grammar does not allow (see grammar.go), renders it with
// placeholder values within the caps (see limits.go) and checks labels and annotations.
// The error names the key at fault and never holds a token, since none is used.
func Check(t *sfv1.TokenSecretTemplate) error {
	if t == nil {
		return nil
	}
	if err := checkMetadata(t.Metadata); err != nil {
		return err
	}
	_, err := render(t, placeholder, true)
	return err
}

// Render renders the data templates with a token. Its error names the failing key. It
// says why only when the reason comes from the template alone (a syntax error, something
// the grammar refuses) or is a cap: the template engine's words could quote the token.
func Render(t *sfv1.TokenSecretTemplate, f Fields) (map[string][]byte, error) {
	if t == nil || len(t.Data) == 0 {
		return nil, nil
	}
	return render(t, f, false)
}

// keyError is an error of one data template.
type keyError struct {
	key string
	msg string
	err error
}

func (e *keyError) Error() string {
	return fmt.Sprintf("spec.tokenSecret.template.data[%q]%s", e.key, e.msg)
}

func (e *keyError) Unwrap() error { return e.err }

func render(t *sfv1.TokenSecretTemplate, f Fields, explain bool) (map[string][]byte, error) {
	if len(t.Data) > MaxKeys {
		return nil, fmt.Errorf("spec.tokenSecret.template.data: %d keys, more than the %d allowed", len(t.Data), MaxKeys)
	}
	out := make(map[string][]byte, len(t.Data))
	b := &budget{left: MaxFuncBytes}
	funcs := b.funcs()
	total := MaxTotalBytes
	for _, key := range sortedKeys(t.Data) {
		text := string(t.Data[key])
		if len(text) > MaxTemplateChars && utf8.RuneCountInString(text) > MaxTemplateChars {
			limit := &LimitError{fmt.Sprintf("the template is longer than %d characters", MaxTemplateChars)}
			return nil, &keyError{key: key, msg: ": " + limit.Error(), err: limit}
		}
		tree, fields, err := parseKey(key, text)
		if err != nil {
			return nil, &keyError{key: key, msg: ": " + clip(err.Error()), err: err}
		}
		if name := tooLong(f, fields); name != "" {
			limit := &LimitError{fmt.Sprintf(".%s is longer than %d bytes, the most a key may hold", name, MaxKeyBytes)}
			return nil, &keyError{key: key, msg: " could not be rendered with the issued token: " + limit.Error(), err: limit}
		}
		tmpl, err := template.New(key).Funcs(funcs).AddParseTree(key, tree)
		if err != nil {
			return nil, &keyError{key: key, msg: ": " + clip(err.Error()), err: err}
		}
		w := &capWriter{total: &total}
		if err := tmpl.Execute(w, f); err != nil {
			if explain {
				return nil, &keyError{key: key, msg: ": " + clip(err.Error()), err: err}
			}
			var limit *LimitError
			if errors.As(err, &limit) {
				return nil, &keyError{key: key, msg: " could not be rendered with the issued token: " + limit.Error(), err: limit}
			}
			return nil, &keyError{key: key, msg: " could not be rendered with the issued token"}
		}
		out[key] = w.buf
	}
	return out, nil
}

// tooLong names the first of the fields (read by a template) whose value is longer than
// a key may hold.
func tooLong(f Fields, names []string) string {
	v := reflect.ValueOf(f)
	for _, name := range names {
		if fv := v.FieldByName(name); fv.Kind() == reflect.String && fv.Len() > MaxKeyBytes {
			return name
		}
	}
	return ""
}

// checkMetadata catches labels the API server would refuse on the Secret, so the user
// reads why in the connection's status instead of in the operator's log.
func checkMetadata(m sfv1.TemplateMetadata) error {
	var problems []string
	for _, k := range sortedKeys(m.Labels) {
		for _, msg := range validation.IsQualifiedName(k) {
			problems = append(problems, fmt.Sprintf("label key %q: %s", k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(m.Labels[k]) {
			problems = append(problems, fmt.Sprintf("label %q value: %s", k, msg))
		}
	}
	for _, k := range sortedKeys(m.Annotations) {
		for _, msg := range validation.IsQualifiedName(strings.ToLower(k)) {
			problems = append(problems, fmt.Sprintf("annotation key %q: %s", k, msg))
		}
	}
	if len(problems) > 0 {
		return errors.New("spec.tokenSecret.template.metadata: " + strings.Join(problems, "; "))
	}
	return nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
