package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// UserInfo asks <instanceURL>/services/oauth2/userinfo who accessToken belongs to
// (docs/salesforce-behaviour.md#userinfo-a-cheap-liveness-probe): a cheap check that the
// token is alive and is the user the spec names. A 401 or 403 is Terminal: the access token
// is dead (expired session, revoked, user deactivated), which says nothing about the
// refresh token, so it is not Revoked; log in or refresh again. 5xx and network failures
// are Retryable.
func (c *HTTPClient) UserInfo(ctx context.Context, instanceURL, accessToken string) (*UserInfo, error) {
	target, err := parseInstanceURL(instanceURL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(accessToken) == "" {
		return nil, &Error{Class: Terminal, Message: "missing access token"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, http.NoBody)
	if err != nil {
		return nil, &Error{Class: Terminal, Message: "building the userinfo request"}
	}
	// The token goes in the header, never the query string, where logs would keep it.
	req.Header.Set("Authorization", "Bearer "+accessToken)
	r, err := c.send(ctx, req, "userinfo request")
	if err != nil {
		return nil, err
	}
	switch r.status {
	case http.StatusOK:
		return parseUserInfo(r.body)
	case http.StatusUnauthorized, http.StatusForbidden:
		// The body of this refusal is not documented
		// (docs/salesforce-behaviour.md#userinfo-a-cheap-liveness-probe; the emulator sends a
		// plain-text "Bad_OAuth_Token"), and it need not be the token endpoint's JSON envelope,
		// so the status alone decides.
		return nil, &Error{Class: Terminal, StatusCode: r.status, Message: fmt.Sprintf("access token not accepted (status %d)", r.status)}
	}
	// No grant was presented: the refresh- and device-specific rules do not apply.
	return nil, classifyFailure("", r.status, r.body, []string{accessToken})
}

// userInfoAnswer holds the OpenID Connect claims Salesforce adds to userinfo that the
// operator reads; the rest (urls, locale, ...) is ignored.
type userInfoAnswer struct {
	UserID            string `json:"user_id"`
	OrganizationID    string `json:"organization_id"`
	PreferredUsername string `json:"preferred_username"`
	Name              string `json:"name"`
	Email             string `json:"email"`
}

// parseUserInfo reads an HTTP 200 body. Only user_id is required: it is what tells whose
// token this is. A body without it is not Salesforce's answer (a login page behind a
// proxy, say), so it is Retryable like any malformed answer.
func parseUserInfo(body []byte) (*UserInfo, error) {
	var a userInfoAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, malformed(body)
	}
	if strings.TrimSpace(a.UserID) == "" {
		return nil, &Error{Class: Retryable, StatusCode: http.StatusOK, Message: "malformed answer: no user_id"}
	}
	return &UserInfo{
		UserID:   a.UserID,
		OrgID:    a.OrganizationID,
		Username: a.PreferredUsername,
		Name:     a.Name,
		Email:    a.Email,
	}, nil
}
