package authflow

import (
	"errors"
	"fmt"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

// refused turns Salesforce's answer to a login into a failure a person can act on: the
// class the client read from the answer, the reason it gives the Ready condition, and
// where to look. hint is the flow's likeliest cause of a refusal. An error that is not
// Salesforce's (the API server's, while reading or storing a refresh token) stays as it is.
func (b base) refused(err error, hint string) error {
	var sfErr *salesforce.Error
	if !errors.As(err, &sfErr) {
		return err
	}
	switch sfErr.Class {
	case salesforce.Terminal:
		return failure.New(failure.Terminal, sfv1.ReasonAuthenticationFailed,
			"Salesforce refused the login: %v. %s%s; the operator tries again when either changes", err, hint, b.fixHint())
	case salesforce.Revoked:
		return &failure.Failure{Class: failure.Revoked, Reason: sfv1.ReasonRevoked, Message: b.revokedMessage(err)}
	case salesforce.RateLimited:
		// docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour
		return &failure.Failure{Class: failure.RateLimited, Reason: sfv1.ReasonRateLimited, Message: err.Error()}
	}
	return &failure.Failure{Class: failure.Retryable, Reason: sfv1.ReasonSalesforceUnavailable, Message: err.Error()}
}

// fixHint says where the inputs of a login are.
func (b base) fixHint() string {
	if b.secret != "" {
		return fmt.Sprintf("Fix the credentials in Secret %q or the spec", b.secret)
	}
	return "Fix the spec, or give it a credentials Secret with client_secret if the connected app requires one"
}

func (b base) revokedMessage(err error) string {
	return fmt.Sprintf("Salesforce rejected the refresh token (%v). Likely causes, most likely first: "+
		"the five-approval limit (a sixth approval for this user and connected app, made anywhere, evicted this one); "+
		"an admin revoked it; the connected app's refresh token policy expired it; "+
		"a rotated refresh token was replayed; the user's password was reset. "+
		"Put a new refresh_token in Secret %q to recover; the access token already in the token Secret stays until it expires",
		err, b.secret)
}
