// Package loginhost decides which Salesforce login URLs the operator may contact.
//
// A SalesforceConnection names its own loginURL, and the operator posts credentials there.
// Without a check, anyone allowed to create a connection could point it at a server of
// their own and collect the credentials Secret of their namespace in clear, or make the
// operator probe the cluster network. So only hosts matching the operator's
// --allowed-login-hosts are ever contacted: by default Salesforce's own login domains
// (docs/salesforce-behaviour.md#login-hosts-and-my-domain), over https on the default port.
// The instance_url of a token answer, where workloads send the token, must match the same
// list or one of Salesforce's instance host forms (CheckInstance).
package loginhost

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// DefaultPatterns are Salesforce's login domains: the generic login hosts and the My
// Domain families (production, sandbox and other partitions, Experience Cloud sites,
// Government Cloud on .mil, Salesforce on Alibaba Cloud, alternative My Domains;
// docs/salesforce-behaviour.md#my-domain-host-shapes-and-sandboxes).
var DefaultPatterns = []string{
	"login.salesforce.com",
	"test.salesforce.com",
	"*.my.salesforce.com",
	"*.my.site.com",
	"*.my.salesforce.mil",
	"*.my.sfcrmproducts.cn",
	"*.my-salesforce.com",
}

// Policy is a parsed list of allowed host patterns.
type Policy struct {
	patterns []pattern
}

type pattern struct {
	// labels of the host, lower case; a leading "*" stands for one or more labels.
	labels []string
	// port is set when the pattern names one; only then may a URL use a non-default port.
	port string
	// loopback patterns (127.0.0.1, ::1, localhost) allow http, for tests and the demo.
	loopback bool
}

// Parse builds a Policy from host patterns such as "login.salesforce.com",
// "*.my.salesforce.com" or "127.0.0.1:8080". An empty list gives DefaultPatterns.
func Parse(patterns []string) (*Policy, error) {
	if len(patterns) == 0 {
		patterns = DefaultPatterns
	}
	p := &Policy{}
	for _, raw := range patterns {
		raw = strings.TrimSpace(strings.ToLower(raw))
		// A pattern names a host; a scheme or trailing slash written out of habit says
		// nothing more (the scheme rule is fixed: https, or http for loopback).
		raw = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(raw, "https://"), "http://"), "/")
		if raw == "" {
			continue
		}
		host, port := raw, ""
		if h, pt, err := net.SplitHostPort(raw); err == nil {
			host, port = h, pt
		}
		host = strings.Trim(host, "[]")
		if host == "" || strings.ContainsAny(host, "/@?#") || (strings.Contains(host, ":") && net.ParseIP(host) == nil) || strings.Trim(port, "0123456789") != "" {
			return nil, fmt.Errorf("allowed login host %q is not a host pattern", raw)
		}
		if net.ParseIP(host) != nil {
			p.patterns = append(p.patterns, pattern{labels: []string{host}, port: port, loopback: isLoopback(host)})
			continue
		}
		labels := strings.Split(host, ".")
		for i, l := range labels {
			if l == "" || (strings.Contains(l, "*") && (l != "*" || i != 0)) {
				return nil, fmt.Errorf("allowed login host %q: a wildcard may only be a whole first label, as in *.my.salesforce.com", raw)
			}
		}
		if labels[0] == "*" && len(labels) < 3 {
			return nil, fmt.Errorf("allowed login host %q: a wildcard needs at least two labels after it", raw)
		}
		p.patterns = append(p.patterns, pattern{labels: labels, port: port, loopback: isLoopback(host)})
	}
	if len(p.patterns) == 0 {
		return nil, fmt.Errorf("no allowed login hosts")
	}
	return p, nil
}

// Check returns nil when loginURL may be contacted, else an error a person can act on. It
// accepts a scheme and host alone (parseHostURL), https on the default port (or a port the
// matching pattern names), and http only for a loopback host that a pattern names
// explicitly.
func (p *Policy) Check(loginURL string) error {
	u, err := parseHostURL(loginURL)
	if err != nil {
		return fmt.Errorf("loginURL %w", err)
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	for _, pt := range p.patterns {
		if !pt.matchHost(host) {
			continue
		}
		if u.Scheme == "http" && !pt.loopback {
			return fmt.Errorf("loginURL must use https: http is allowed only for a loopback host named in --allowed-login-hosts")
		}
		switch {
		case pt.port != "" && port != pt.port:
			continue
		case pt.port == "" && port != "" && !pt.loopback && !(u.Scheme == "https" && port == "443"):
			continue
		}
		return nil
	}
	return fmt.Errorf("login host %q is not allowed by the operator's --allowed-login-hosts", host)
}

// CheckInstance returns nil when an instance_url from a token answer may be written for
// workloads to send the token to. Salesforce sends it, but a token answer is data: it may
// come from a custom login host, a proxy, or an emulator, and workloads trust the token
// Secret (docs/salesforce-behaviour.md#instance_url-forms). So it must be a plain
// scheme://host URL (no user info, path, query or fragment; ASCII host names only) and
// either
//   - allowed by the operator's --allowed-login-hosts, by the rules of Check (this is how
//     the tests and the demo use http://127.0.0.1:PORT, and how a custom domain is let in),
//   - or https on the default port with a host of one of Salesforce's instance host forms
//     (IsInstanceHost); an IP literal never is one.
func (p *Policy) CheckInstance(instanceURL string) error {
	u, err := parseHostURL(instanceURL)
	if err != nil {
		return fmt.Errorf("instance_url %w", err)
	}
	if p.Check(instanceURL) == nil {
		return nil
	}
	host := strings.ToLower(u.Hostname())
	switch {
	case u.Scheme != "https":
		return fmt.Errorf("instance_url must use https: http is allowed only for a loopback host named in --allowed-login-hosts")
	case u.Port() != "" && u.Port() != "443":
		return fmt.Errorf("instance_url must use port 443 unless --allowed-login-hosts names its host and port")
	case net.ParseIP(host) != nil:
		return fmt.Errorf("instance_url host %s is an IP address, which --allowed-login-hosts does not name", host)
	case !IsInstanceHost(host):
		return fmt.Errorf("instance_url host %q is neither allowed by --allowed-login-hosts nor one of Salesforce's instance host forms", host)
	}
	return nil
}

// maxHostURL bounds a login URL or an instance_url: a host name is at most 253
// characters, and the scheme, port and slash add a few.
const maxHostURL = 300

// parseHostURL parses an http(s) URL made of a host, an optional port and an optional
// trailing slash, and nothing else. It is strict where url.Parse is lenient, since the URL
// is sent credentials, or written for workloads whose own parsers may read it differently:
// only printable ASCII, a lower-case scheme, no percent-encoding or backslash, no empty
// port, and a host that is an IP literal or a name of letters, digits and hyphens. Its errors never quote the URL, which could carry
// user info.
func parseHostURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, fmt.Errorf("is empty")
	}
	if len(raw) > maxHostURL {
		return nil, fmt.Errorf("is longer than %d characters", maxHostURL)
	}
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '%' || c == '\\' {
			return nil, fmt.Errorf("must be printable ASCII without spaces, %%-escapes or backslashes")
		}
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return nil, fmt.Errorf("is not a URL")
	case u.Scheme != "https" && u.Scheme != "http", !strings.HasPrefix(raw, u.Scheme+"://"):
		return nil, fmt.Errorf("must be an https URL, its scheme in lower case")
	case u.Opaque != "" || u.User != nil || strings.Contains(raw, "@"):
		return nil, fmt.Errorf("must not carry user info")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#"):
		return nil, fmt.Errorf("must be a scheme and host only, with no path, query or fragment")
	case u.Hostname() == "" || strings.HasSuffix(u.Host, ":"):
		return nil, fmt.Errorf("has no host, or an empty port")
	}
	if host := u.Hostname(); net.ParseIP(host) == nil && !isHostName(host) {
		return nil, fmt.Errorf("host is not a DNS name of letters, digits and hyphens, nor an IP address")
	}
	return u, nil
}

// isHostName reports whether host is a DNS host name: dot-separated labels of 1 to 63
// letters, digits and hyphens, none at either end of a label, 253 characters at most. A
// trailing dot (an absolute name) is refused: no Salesforce URL has one.
func isHostName(host string) bool {
	if host == "" || len(host) > 253 {
		return false
	}
	for _, l := range strings.Split(host, ".") {
		if !isLDHLabel(l) {
			return false
		}
	}
	return true
}

func isLDHLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		if c := l[i]; !isAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// labelKind is what one label of an instance host may be.
type labelKind int

const (
	// myDomainLabel is a My Domain name, with "--" and a sandbox name in it for sandboxes
	// (acme, acme--uat): any DNS label.
	myDomainLabel labelKind = iota
	// partitionLabel is the label between a My Domain name and my.salesforce.com: an org
	// type partition (sandbox, develop, scratch, ...) or, on legacy sandbox hosts, the
	// instance (cs92). Letters and digits only.
	partitionLabel
	// instanceLabel is a classic instance name (na1, cs42, eu5, um1, usa2s): two to four
	// letters, one to four digits, and an s for Hyperforce sandbox instances.
	instanceLabel
)

// instanceForm is one host shape: the labels in front of suffix, left to right.
type instanceForm struct {
	suffix string
	front  [][]labelKind
}

// instanceForms are the hosts Salesforce answers with in instance_url
// (docs/salesforce-behaviour.md#instance_url-forms and
// #my-domain-host-shapes-and-sandboxes): My Domains of every family, with an optional
// partition or legacy instance label, and the classic instance hosts of orgs without a
// My Domain. Lightning (*.lightning.force.com), Visualforce and site hosts serve pages, not
// the OAuth and REST endpoints, and are not instance URLs; an Experience Cloud site used
// as a login host is accepted through --allowed-login-hosts.
var instanceForms = []instanceForm{
	// acme.my.salesforce.com, acme--uat.sandbox.my.salesforce.com,
	// acme-dev-ed.develop.my.salesforce.com, acme--uat.cs92.my.salesforce.com.
	{".my.salesforce.com", [][]labelKind{{myDomainLabel}, {myDomainLabel, partitionLabel}}},
	// Government Cloud Plus Defense.
	{".my.salesforce.mil", [][]labelKind{{myDomainLabel}, {myDomainLabel, partitionLabel}}},
	// Salesforce on Alibaba Cloud.
	{".my.sfcrmproducts.cn", [][]labelKind{{myDomainLabel}, {myDomainLabel, partitionLabel}}},
	// Alternative My Domains: acme.my-salesforce.com, uat.acme.sandbox.my-salesforce.com.
	{".my-salesforce.com", [][]labelKind{{myDomainLabel}, {myDomainLabel, myDomainLabel, partitionLabel}}},
	// Classic instances: na123.salesforce.com, cs42.salesforce.com.
	{".salesforce.com", [][]labelKind{{instanceLabel}}},
}

// IsInstanceHost reports whether host (lower case, no port) has one of the forms of
// Salesforce's instance hosts that CheckInstance accepts without --allowed-login-hosts.
func IsInstanceHost(host string) bool {
	if !isHostName(host) {
		return false
	}
	for _, f := range instanceForms {
		front, ok := strings.CutSuffix(host, f.suffix)
		if !ok || front == "" {
			continue
		}
		labels := strings.Split(front, ".")
		for _, shape := range f.front {
			if matchLabels(labels, shape) {
				return true
			}
		}
	}
	return false
}

func matchLabels(labels []string, shape []labelKind) bool {
	if len(labels) != len(shape) {
		return false
	}
	for i, k := range shape {
		if !k.match(labels[i]) {
			return false
		}
	}
	return true
}

func (k labelKind) match(l string) bool {
	switch k {
	case partitionLabel:
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) {
				return false
			}
		}
		return l != ""
	case instanceLabel:
		return isInstanceName(l)
	default:
		return isLDHLabel(l)
	}
}

// isInstanceName matches [a-z]{2,4}[0-9]{1,4}s?, lower case.
func isInstanceName(l string) bool {
	l = strings.TrimSuffix(l, "s")
	letters := 0
	for letters < len(l) && 'a' <= l[letters] && l[letters] <= 'z' {
		letters++
	}
	digits := len(l) - letters
	if letters < 2 || letters > 4 || digits < 1 || digits > 4 {
		return false
	}
	for i := letters; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

func (pt pattern) matchHost(host string) bool {
	labels := strings.Split(host, ".")
	if pt.labels[0] != "*" {
		return strings.Join(labels, ".") == strings.Join(pt.labels, ".")
	}
	suffix := pt.labels[1:]
	if len(labels) <= len(suffix) {
		return false
	}
	for i := range suffix {
		if labels[len(labels)-len(suffix)+i] != suffix[i] {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
