package salesforce

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode"
)

// FuzzParseBaseURL checks the parsing of a login URL and of an instance URL (both come
// from user-controlled places: the spec and the token Secret). What is accepted is rebuilt
// as scheme://host, and every endpoint built on it reaches that host and that path, nothing
// else; what is refused gets a fixed Terminal error that does not quote the URL.
func FuzzParseBaseURL(f *testing.F) {
	for _, s := range []string{
		"https://login.salesforce.com", "https://acme.my.salesforce.com/", "http://127.0.0.1:18080",
		"https://login.salesforce.com:443", "https://[::1]:8443",
		"https://%C3%A9x.com", "https://u:p@login.salesforce.com", "https://login.salesforce.com/x",
		"https://login.salesforce.com?", "https://login.salesforce.com#", "https:login.salesforce.com",
		"//login.salesforce.com", "HTTPS://LOGIN.SALESFORCE.COM", "https://login.salesforce.com\\@evil.io",
		"https://login.salesforce.com%2F@evil.io", " https://login.salesforce.com", "",
	} {
		f.Add(s)
	}
	fixed := map[string]bool{}
	for _, label := range []string{"login URL", "instance URL"} {
		for _, why := range []string{"missing loginURL", "missing instanceURL", "not a URL", "scheme must be https",
			"must not contain user info", "missing host", "must not have an empty port", "must not contain a query or fragment", "must not contain a path"} {
			fixed["invalid "+label+": "+why] = true
		}
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ep, lerr := parseLoginURL(raw)
		userinfo, ierr := parseInstanceURL(raw)
		if (lerr == nil) != (ierr == nil) {
			t.Fatalf("login URL and instance URL disagree on %q: %v, %v", raw, lerr, ierr)
		}
		if lerr != nil {
			for _, err := range []error{lerr, ierr} {
				e, ok := err.(*Error) //nolint:errorlint // the error must be an *Error itself, not wrap one
				if !ok || e.Class != Terminal || e.Code != "" || e.Description != "" || e.Err != nil || !fixed[e.Message] {
					t.Fatalf("refusing %q: error %#v", raw, err)
				}
			}
			return
		}
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatalf("accepted %q, which does not parse: %v", raw, err)
		}
		if ep.host != strings.ToLower(u.Hostname()) || ep.host == "" {
			t.Fatalf("host of %q = %q, want %q", raw, ep.host, strings.ToLower(u.Hostname()))
		}
		for _, target := range []struct{ url, path string }{
			{ep.tokenURL, tokenPath}, {ep.revokeURL, revokePath}, {ep.introspectURL, introspectPath}, {userinfo, userInfoPath},
		} {
			if strings.ContainsFunc(target.url, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) }) {
				t.Fatalf("endpoint %q of %q holds a space or control character", target.url, raw)
			}
			v, err := url.Parse(target.url)
			if err != nil {
				t.Fatalf("endpoint %q of %q does not parse: %v", target.url, raw, err)
			}
			if v.Scheme != u.Scheme || (v.Scheme != "https" && v.Scheme != "http") || v.Host != u.Host || v.User != nil ||
				v.Path != target.path || v.RawQuery != "" || v.Fragment != "" {
				t.Fatalf("endpoint %q of %q is not %s://%s%s", target.url, raw, u.Scheme, u.Host, target.path)
			}
			r, err := http.NewRequest(http.MethodPost, target.url, http.NoBody)
			if err != nil || r.URL.Host != u.Host {
				t.Fatalf("a request for endpoint %q of %q goes to %v (%v)", target.url, raw, r, err)
			}
		}
	})
}
