package salesforce

import (
	"net/url"
	"strings"
)

// tokenPath is where every grant is posted; OIDC discovery for login.salesforce.com lists
// the same path, and My Domain hosts serve it too.
const tokenPath = "/services/oauth2/token"

type endpoint struct {
	tokenURL string
	// host is the login host without port, lower-cased, for choosing the JWT audience.
	host string
}

// parseLoginURL turns LoginURL into the token endpoint. The caller has already checked
// the host against its allowlist; this only refuses shapes that would make the request go
// somewhere else than the caller believes (a path, a query) or carry credentials in the
// URL (userinfo). Error texts never repeat the URL: it could hold userinfo.
func parseLoginURL(raw string) (endpoint, error) {
	invalid := func(why string) (endpoint, error) {
		return endpoint{}, &Error{Class: Terminal, Message: "invalid login URL: " + why}
	}
	if strings.TrimSpace(raw) == "" {
		return invalid("missing loginURL")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// err would quote the URL; say only that it did not parse.
		return invalid("not a URL")
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return invalid("scheme must be https")
	case u.User != nil:
		return invalid("must not contain user info")
	case u.Host == "" || u.Hostname() == "":
		return invalid("missing host")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return invalid("must not contain a query or fragment")
	case u.Path != "" && u.Path != "/":
		return invalid("must not contain a path")
	}
	return endpoint{
		tokenURL: u.Scheme + "://" + u.Host + tokenPath,
		host:     strings.ToLower(u.Hostname()),
	}, nil
}
