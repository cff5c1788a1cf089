package salesforce

import (
	"net"
	"net/url"
	"strings"
)

// The OAuth endpoints, as OIDC discovery for login.salesforce.com lists them; My Domain
// hosts serve them too (docs/salesforce-behaviour.md#the-oauth-endpoints).
const (
	tokenPath      = "/services/oauth2/token"
	revokePath     = "/services/oauth2/revoke"
	userInfoPath   = "/services/oauth2/userinfo"
	introspectPath = "/services/oauth2/introspect"
	// dataPath is the REST API's root on an instance; the API version follows it.
	dataPath = "/services/data/"
)

type endpoint struct {
	tokenURL      string
	revokeURL     string
	introspectURL string
	// host is the login host without port, lower-cased, for choosing the JWT audience.
	host string
}

// parseLoginURL turns LoginURL into the OAuth endpoints. The caller has already checked
// the host against its allowlist; this only refuses shapes that would make the request go
// somewhere else than the caller believes (a path, a query) or carry credentials in the
// URL (userinfo).
func parseLoginURL(raw string) (endpoint, error) {
	base, host, err := parseBaseURL(raw, "login URL", "loginURL")
	if err != nil {
		return endpoint{}, err
	}
	return endpoint{
		tokenURL: base + tokenPath, revokeURL: base + revokePath, introspectURL: base + introspectPath,
		host: host,
	}, nil
}

// parseInstanceURL turns a token's instance_url into its userinfo endpoint.
func parseInstanceURL(raw string) (string, error) {
	base, err := parseInstanceBase(raw)
	if err != nil {
		return "", err
	}
	return base + userInfoPath, nil
}

// parseInstanceBase checks a token's instance_url and returns it as scheme://host. It is
// checked like a login URL because the access token is sent there: it came from
// Salesforce, but it may have been stored in a Secret that someone else can edit. Plain
// http is refused unless the host is a loopback address (the emulator in tests and the
// demo), as the operator's login host policy refuses it before an instance_url is ever
// written (internal/loginhost): over http the token would cross the network in clear.
func parseInstanceBase(raw string) (string, error) {
	base, host, err := parseBaseURL(raw, "instance URL", "instanceURL")
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(base, "http:") && !isLoopbackHost(host) {
		return "", &Error{Class: Terminal, Message: "invalid instance URL: plain http is allowed only to a loopback host; use https"}
	}
	return base, nil
}

// isLoopbackHost reports whether host, lower-cased and without port or brackets, is
// localhost or a loopback IP address.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseBaseURL checks a base URL and returns it as scheme://host and its lower-cased host
// without port. label and field name it in error texts, which never repeat the URL: it
// could hold userinfo.
func parseBaseURL(raw, label, field string) (base, host string, err error) {
	invalid := func(why string) (string, string, error) {
		return "", "", &Error{Class: Terminal, Message: "invalid " + label + ": " + why}
	}
	if strings.TrimSpace(raw) == "" {
		return invalid("missing " + field)
	}
	u, perr := url.Parse(raw)
	if perr != nil {
		// perr would quote the URL; say only that it did not parse.
		return invalid("not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return invalid("scheme must be https")
	case u.User != nil:
		return invalid("must not contain user info")
	case u.Host == "" || u.Hostname() == "":
		return invalid("missing host")
	case strings.HasSuffix(u.Host, ":"):
		return invalid("must not have an empty port")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return invalid("must not contain a query or fragment")
	case u.Path != "" && u.Path != "/":
		return invalid("must not contain a path")
	}
	// Rebuilt by url.URL so the host is escaped again: u.Host is decoded, and an IPv6 zone
	// (%25 in the URL) pasted back as is would make every endpoint unparsable.
	base = (&url.URL{Scheme: u.Scheme, Host: u.Host}).String()
	return base, strings.ToLower(u.Hostname()), nil
}
