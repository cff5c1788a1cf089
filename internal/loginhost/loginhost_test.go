package loginhost

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

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
	p, err := Parse(append([]string{"127.0.0.1", "[::1]", "login.acme.com"}, DefaultPatterns...))
	if err != nil {
		t.Fatal(err)
	}
	// narrow names no Salesforce family: what it accepts comes from the instance forms alone.
	narrow, err := Parse([]string{"login.salesforce.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		url   string
		allow bool
	}{
		// My Domains of every family, with a partition or a legacy instance label.
		{"https://acme.my.salesforce.com", true},
		{"https://acme.my.salesforce.com/", true},
		{"https://acme.my.salesforce.com:443", true},
		{"https://ACME.My.Salesforce.com", true},
		{"https://acme--uat.sandbox.my.salesforce.com", true},
		{"https://acme--uat.my.salesforce.com", true},
		{"https://acme--uat.cs92.my.salesforce.com", true},
		{"https://acme-dev-ed.develop.my.salesforce.com", true},
		{"https://acme.scratch.my.salesforce.com", true},
		{"https://acme.trailblaze.my.salesforce.com", true},
		{"https://acme.my.salesforce.mil", true},
		{"https://acme--uat.sandbox.my.salesforce.mil", true},
		{"https://acme.my.sfcrmproducts.cn", true},
		{"https://acme--uat.sandbox.my.sfcrmproducts.cn", true},
		{"https://acme.my-salesforce.com", true},
		{"https://uat.acme.sandbox.my-salesforce.com", true},
		// Classic instances, Hyperforce sandbox instance names included.
		{"https://na1.salesforce.com", true},
		{"https://na123.salesforce.com", true},
		{"https://cs42.salesforce.com", true},
		{"https://eu5.salesforce.com", true},
		{"https://um1.salesforce.com", true},
		{"https://gs0.salesforce.com", true},
		{"https://usa2s.salesforce.com", true},
		// The allowlist: loopback over http with its port, a custom login host.
		{"http://127.0.0.1:18080", true},
		{"http://[::1]:18080", true},
		{"https://login.acme.com", true},
		{"https://login.salesforce.com", true},

		// Salesforce's domains, but not instance URLs.
		{"https://acme.lightning.force.com", false},
		{"https://acme--uat.sandbox.lightning.force.com", false},
		{"https://acme.my.site.com.evil.io", false},
		{"https://c.na1.visual.force.com", false},
		{"https://acme.force.com", false},
		{"https://acme.secure.force.com", false},
		{"https://www.salesforce.com", false},
		{"https://developer.salesforce.com", false},
		{"https://api.salesforce.com", false},
		{"https://na1-api.salesforce.com", false},
		{"https://n1.salesforce.com", false},
		{"https://na12345.salesforce.com", false},
		{"https://a.b.na1.salesforce.com", false},
		{"https://salesforce.com", false},
		{"https://my.salesforce.com", false},
		{"https://.my.salesforce.com", false},
		{"https://-acme.my.salesforce.com", false},
		{"https://acme-.my.salesforce.com", false},
		{"https://acme..my.salesforce.com", false},
		{"https://acme.my.salesforce.com.", false},
		{"https://acme_x.my.salesforce.com", false},
		// Not Salesforce at all.
		{"https://salesforce.com.evil.io", false},
		{"https://acme.my.salesforce.com.evil.io", false},
		{"https://evilsalesforce.com", false},
		{"https://evil.io", false},
		// Shapes: scheme, port, user info, path, query, fragment, escapes, spaces.
		{"http://na1.salesforce.com", false},
		{"http://acme.my.salesforce.com", false},
		{"HTTPS://na1.salesforce.com", false},
		{"ftp://na1.salesforce.com", false},
		{"//na1.salesforce.com", false},
		{"https:na1.salesforce.com", false},
		{"https://na1.salesforce.com:8443", false},
		{"https://na1.salesforce.com:0443", false},
		{"https://na1.salesforce.com:", false},
		{"https://u@na1.salesforce.com", false},
		{"https://u:p@na1.salesforce.com", false},
		{"https://evil.io@na1.salesforce.com", false},
		{"https://na1.salesforce.com/services/data", false},
		{"https://na1.salesforce.com//", false},
		{"https://na1.salesforce.com?x=1", false},
		{"https://na1.salesforce.com?", false},
		{"https://na1.salesforce.com#x", false},
		{"https://na1.salesforce.com#", false},
		{"https://na1%2esalesforce.com", false},
		{"https://na1.salesforce.com\\@evil.io", false},
		{"https://na1.salesforce.com\n", false},
		{" https://na1.salesforce.com", false},
		{"https://na1.salesforce.com\x00", false},
		{"https://na1.salesforce.çom", false},
		// IP literals: only those the allowlist names, and only as it names them.
		{"https://1.2.3.4", false},
		{"https://[2001:db8::1]", false},
		{"http://127.0.0.2:18080", false},
		{"http://[::ffff:127.0.0.1]:18080", false},
		{"http://localhost:18080", false},
		{"", false},
		{"::", false},
	} {
		if err := p.CheckInstance(tt.url); (err == nil) != tt.allow {
			t.Errorf("CheckInstance(%q) = %v, want allowed=%v", tt.url, err, tt.allow)
		}
	}

	for _, tt := range []struct {
		url   string
		allow bool
	}{
		{"https://acme.my.salesforce.com", true},
		{"https://acme--uat.sandbox.my.salesforce.com", true},
		{"https://na1.salesforce.com", true},
		{"https://acme.my.site.com", false},
		{"https://a.b.c.my.salesforce.com", false},
		{"https://test.salesforce.com", false},
		{"http://127.0.0.1:18080", false},
		{"https://127.0.0.1", false},
	} {
		if err := narrow.CheckInstance(tt.url); (err == nil) != tt.allow {
			t.Errorf("narrow CheckInstance(%q) = %v, want allowed=%v", tt.url, err, tt.allow)
		}
	}
}

// TestCheckInstanceErrorsDoNotQuote checks that a refused instance_url's user info never
// reaches the error, which ends up in status and events.
func TestCheckInstanceErrorsDoNotQuote(t *testing.T) {
	p, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"https://user:s3cr3t@na1.salesforce.com", "https://na1.salesforce.com/?s3cr3t", "https://s3cr3t.evil.io:8443/x"} {
		err := p.CheckInstance(u)
		if err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("CheckInstance(%q) = %v", u, err)
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

// instanceOracle restates the instance host forms as one regular expression, written apart
// from IsInstanceHost so that the fuzzer compares two readings of the same list.
var instanceOracle = regexp.MustCompile(`^(` +
	`[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]{1,63})?\.my\.(salesforce\.com|salesforce\.mil|sfcrmproducts\.cn)` +
	`|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.my-salesforce\.com` +
	`|[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.[a-z0-9]{1,63}\.my-salesforce\.com` +
	`|[a-z]{2,4}[0-9]{1,4}s?\.salesforce\.com` +
	`)$`)

func FuzzCheckInstance(f *testing.F) {
	p, err := Parse(append([]string{"127.0.0.1", "login.acme.com"}, DefaultPatterns...))
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"https://acme.my.salesforce.com", "https://acme--uat.sandbox.my.salesforce.com", "https://na1.salesforce.com",
		"https://usa2s.salesforce.com:443/", "https://uat.acme.sandbox.my-salesforce.com", "http://127.0.0.1:18080",
		"https://login.acme.com", "https://acme.lightning.force.com", "https://u@na1.salesforce.com",
		"https://na1.salesforce.com#", "https://na1%2esalesforce.com", "https://[::1]:443", "https://1.2.3.4",
		"https://na1.salesforce.com.evil.io", "https://acme.my.salesforce.com\\@evil.io",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := p.CheckInstance(s)
		host := ""
		if u, perr := url.Parse(s); perr == nil {
			host = strings.ToLower(u.Hostname())
		}
		if err != nil {
			// Salesforce's forms over https must pass: the oracle says the host is one, and
			// the URL is nothing but it.
			if len(host) <= 253 && instanceOracle.MatchString(host) && (s == "https://"+host || s == "https://"+host+"/") {
				t.Fatalf("refused %q: %v", s, err)
			}
			return
		}
		// Whatever passes is a plain http(s)://host[:port][/] of printable ASCII...
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] >= 0x7f || strings.IndexByte("%\\@?#", s[i]) >= 0 {
				t.Fatalf("accepted %q, with byte %q", s, s[i])
			}
		}
		u, perr := url.Parse(s)
		if perr != nil || (u.Scheme != "https" && u.Scheme != "http") || !strings.HasPrefix(s, u.Scheme+"://") ||
			u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
			t.Fatalf("accepted %q, which is not a plain URL of a host", s)
		}
		// ...where a path appended stays on the same host...
		if v, err := url.Parse(strings.TrimSuffix(s, "/") + "/services/data/"); err != nil || v.Host != u.Host {
			t.Fatalf("accepted %q, whose REST API path lands on %v", s, v)
		}
		// ...and that the allowlist allows, or an https instance host on port 443.
		if p.Check(s) == nil {
			return
		}
		if u.Scheme != "https" || (u.Port() != "" && u.Port() != "443") || !instanceOracle.MatchString(host) {
			t.Fatalf("accepted %q outside the allowlist and the instance forms", s)
		}
	})
}
