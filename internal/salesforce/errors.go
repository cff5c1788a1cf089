package salesforce

import (
	"errors"
	"fmt"
	"strings"
)

// Class says what the operator should do after a failed request.
type Class int

const (
	// Retryable failures (5xx, network errors, timeouts, HTML error pages, malformed
	// answers) are retried with exponential backoff.
	Retryable Class = iota
	// Terminal failures (bad credentials, unknown client, user not approved, bad key) will
	// fail the same way until a person changes the spec or the credentials.
	Terminal
	// Revoked means Salesforce rejected the refresh token: revoked by an admin, evicted by
	// the five-approval limit, expired by policy, or a rotated token replayed.
	Revoked
	// RateLimited means the user's login quota (3,600 per hour) is spent: wait long
	// (docs/salesforce-behaviour.md#login-rate-limit-3600-per-user-per-hour).
	RateLimited
	// Pending is the device flow's "not yet": the user has not approved the device code
	// yet; poll again after the interval. Only PollDeviceLogin returns it. It comes last so
	// the values of the other classes do not change.
	Pending
)

func (c Class) String() string {
	switch c {
	case Terminal:
		return "Terminal"
	case Revoked:
		return "Revoked"
	case RateLimited:
		return "RateLimited"
	case Pending:
		return "Pending"
	default:
		return "Retryable"
	}
}

// Error is a classified failure. Its text holds Salesforce's error code and description
// (withheld when they quote a credential of the request, as a proxy echoing the request
// would; see withholdSecrets) or a description of the transport failure, and never a
// secret value.
type Error struct {
	Class Class
	// StatusCode is the HTTP status, 0 when no answer arrived.
	StatusCode int
	// Code and Description are Salesforce's error and error_description, when sent. For a
	// REST API error (QueryApprovals, RESTVersions, Limits) Code is Salesforce's errorCode
	// (INVALID_SESSION_ID, MALFORMED_QUERY, ...) and Description is this package's
	// explanation of it: the REST message is not quoted, since a proxy could echo the
	// request, token and all, into it.
	Code        string
	Description string
	// Message describes failures that carry no Salesforce error body.
	Message string
	// Err is the underlying transport error, if any; it must not carry secrets.
	Err error
}

func (e *Error) Error() string {
	switch {
	case e.Code != "" && e.Description != "":
		return fmt.Sprintf("salesforce: %s: %s", e.Code, e.Description)
	case e.Code != "":
		return "salesforce: " + e.Code
	case e.Err != nil:
		return fmt.Sprintf("salesforce: %s: %v", e.Message, e.Err)
	default:
		return "salesforce: " + e.Message
	}
}

func (e *Error) Unwrap() error { return e.Err }

// ClassOf returns the class of err; an error that did not come from this package is
// Retryable, since nothing says a person must act.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return Retryable
}

// IsSlowDown reports whether err is the device flow's slow_down: still Pending, but the
// caller polls too often and should lengthen its interval for good. Salesforce does not
// document slow_down (docs/salesforce-behaviour.md#device-flow); RFC 8628 section 3.5 asks
// for 5 more seconds.
func IsSlowDown(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Class == Pending && strings.EqualFold(e.Code, "slow_down")
}
