package salesforce

import (
	"errors"
	"net/url"
	"strings"
)

// ParseIdentityURL returns the org and user ids from an identity URL,
// https://<login|test|My Domain>/id/<orgId>/<userId>. They are its last two path
// segments; the host is not checked, since sandboxes answer with test.salesforce.com
// whatever host was used to log in
// (docs/salesforce-behaviour.md#the-identity-url-names-the-org-and-the-user).
func ParseIdentityURL(id string) (orgID, userID string, err error) {
	u, err := url.Parse(id)
	if err != nil {
		return "", "", errors.New("identity URL does not parse")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", "", errors.New("identity URL is not an absolute http(s) URL")
	}
	segs := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(segs) < 2 {
		return "", "", errors.New("identity URL has no /<orgId>/<userId> path")
	}
	orgID, userID = segs[len(segs)-2], segs[len(segs)-1]
	if !isSalesforceID(orgID, "00D") {
		return "", "", errors.New("identity URL has no valid org id (15 or 18 characters starting with 00D)")
	}
	if !isSalesforceID(userID, "005") {
		return "", "", errors.New("identity URL has no valid user id (15 or 18 characters starting with 005)")
	}
	return orgID, userID, nil
}

// isSalesforceID checks the shape of a record id: 15 case-sensitive or 18 case-safe
// alphanumerics, the first three naming the object type.
func isSalesforceID(s, prefix string) bool {
	if len(s) != 15 && len(s) != 18 || !strings.HasPrefix(s, prefix) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}
