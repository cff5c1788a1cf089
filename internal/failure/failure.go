// Package failure names why a pass ends without a current token, in classes that decide
// what follows: whether a person must act, whether the current token still serves, how
// soon to try again. A failure is classified where it is made (the Salesforce client, an
// auth flow, a check of the spec); the controller maps each class to conditions, events
// and requeues in one table, and never recovers a class from a reason string.
package failure

import (
	"errors"
	"fmt"
	"time"
)

// Class says what follows from a failure.
type Class string

const (
	// Retryable: Salesforce or the network failed; tried again with exponential backoff.
	Retryable Class = "Retryable"
	// RateLimited: the user's login quota is spent; tried again after a long backoff.
	RateLimited Class = "RateLimited"
	// WaitingForPerson: a person must act outside the cluster (a Salesforce admin, a user
	// approving a device login); tried again on a steady schedule.
	WaitingForPerson Class = "WaitingForPerson"
	// Terminal: the spec or the credentials cannot work as they are; nothing is tried
	// until one of them changes.
	Terminal Class = "Terminal"
	// Revoked: Salesforce rejected the refresh token; like Terminal, a new one is needed.
	Revoked Class = "Revoked"
	// Cluster: the API server failed a read or a write; tried again with the
	// controller's backoff.
	Cluster Class = "Cluster"
)

// Failure is a classified failure. Its message is for a person and holds no secret.
type Failure struct {
	Class Class
	// Reason is the Ready condition's reason.
	Reason  string
	Message string
	// RetryAt is when to try again when the cause says (a device login's poll interval);
	// zero leaves it to the class.
	RetryAt time.Time
}

func (f *Failure) Error() string { return f.Message }

// New returns a failure of class with reason and a formatted message.
func New(class Class, reason, format string, args ...any) *Failure {
	return &Failure{Class: class, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// As returns the failure err is or wraps, nil when it is none.
func As(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return nil
}

// WaitsForChange says whether nothing is tried until the spec or the credentials change.
func (c Class) WaitsForChange() bool { return c == Terminal || c == Revoked }
