// Package loginhost decides which Salesforce login URLs the operator may contact.
//
// A SalesforceConnection names its own loginURL, and the operator posts credentials there.
// Without a check, anyone allowed to create a connection could point it at a server of
// their own and collect the credentials Secret of their namespace in clear, or make the
// operator probe the cluster network. So only hosts matching the operator's
// --allowed-login-hosts are ever contacted: by default Salesforce's own login domains
// (docs/salesforce-behaviour.md#login-hosts-and-my-domain), over https on the default port.
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
// accepts https on the default port (or a port the matching pattern names), and http only
// for a loopback host that a pattern names explicitly.
func (p *Policy) Check(loginURL string) error {
	u, err := url.Parse(loginURL)
	if err != nil {
		return fmt.Errorf("loginURL is not a URL")
	}
	if u.User != nil {
		return fmt.Errorf("loginURL must not carry user info")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("loginURL must be a scheme and host only, such as https://login.salesforce.com")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("loginURL must use https")
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

// instanceDomains are Salesforce's own domains (sfdx-core's list,
// docs/salesforce-behaviour.md#salesforces-own-domains), where orgs live beyond their login
// hosts: legacy instances such as na1.salesforce.com, and *.force.com.
var instanceDomains = []string{".salesforce.com", ".force.com", ".salesforce.mil", ".sfcrmproducts.cn", ".my-salesforce.com", ".my.site.com"}

// CheckInstance returns nil when an instance_url from a token answer may be written for
// workloads to send the token to: an allowed login host, or https on one of Salesforce's
// own domains. Salesforce sends it, but a token answer is data, and workloads trust the
// token Secret (docs/salesforce-behaviour.md#instance_url-forms).
func (p *Policy) CheckInstance(instanceURL string) error {
	if p.Check(instanceURL) == nil {
		return nil
	}
	u, err := url.Parse(instanceURL)
	if err != nil || u.Scheme != "https" || u.User != nil || (u.Port() != "" && u.Port() != "443") ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("instance_url is not an https URL of a host alone")
	}
	host := strings.ToLower(u.Hostname())
	for _, d := range instanceDomains {
		if strings.HasSuffix(host, d) && len(host) > len(d) {
			return nil
		}
	}
	return fmt.Errorf("instance_url host %q is neither an allowed login host nor a Salesforce domain", host)
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
