package controller

import (
	"context"
	"time"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

const (
	// introspectionPause is how long the operator stops asking a connected app that
	// refused to introspect: the refusal is a setting, and asking again at every login
	// would only double the requests.
	introspectionPause = time.Hour
	// maxSessionTimeout is Salesforce's longest session timeout: an exp further out is
	// not a session's, and is ignored (docs/salesforce-behaviour.md#lifetime-is-the-session-timeout).
	maxSessionTimeout = 24 * time.Hour
	// lifetimeTolerance absorbs the seconds between Salesforce's issue time and its exp
	// when comparing a lifetime with spec.sessionTimeout.
	lifetimeTolerance = time.Minute
)

// introspectedExpiry asks Salesforce when a new token expires, where the credentials
// allow it. The token answer has no expires_in
// (docs/salesforce-behaviour.md#no-expires_in-in-the-token-answer): the introspection
// endpoint is the only place Salesforce says it
// (docs/salesforce-behaviour.md#introspection-tells-when-a-token-expires). A refusal, an
// inactive answer or an implausible exp leave the expiry to spec.sessionTimeout.
func (r *Reconciler) introspectedExpiry(ctx context.Context, p *pass, in *authflow.Inputs, tok *salesforce.Token) (time.Time, bool) {
	if in.IntrospectionSecret == "" {
		return time.Time{}, false
	}
	now := r.Clock.Now()
	app := in.Request.LoginURL + " " + in.Request.ClientID
	if until, ok := r.mem.noIntrospection.load(app); ok && now.Before(until) {
		return time.Time{}, false
	}
	ctx, cancel := context.WithTimeout(ctx, authflow.LoginTimeout)
	defer cancel()
	answer, err := r.Salesforce.Introspect(ctx, in.Request.LoginURL, in.Request.ClientID, in.IntrospectionSecret, tok.AccessToken)
	if err != nil {
		if salesforce.ClassOf(err) == salesforce.Terminal {
			r.mem.noIntrospection.store(app, now.Add(introspectionPause))
		}
		p.log.Info("Introspection failed; the token's expiry follows spec.sessionTimeout", "error", err.Error())
		return time.Time{}, false
	}
	if !answer.Active || answer.Expires.IsZero() {
		p.log.Info("Introspection gave no expiry; the token's expiry follows spec.sessionTimeout", "active", answer.Active)
		return time.Time{}, false
	}
	if !answer.Expires.After(now) || answer.Expires.After(tok.IssuedAt.Add(maxSessionTimeout+lifetimeTolerance)) {
		p.log.Info("Introspection gave an implausible expiry; the token's expiry follows spec.sessionTimeout", "exp", answer.Expires)
		return time.Time{}, false
	}
	return answer.Expires, true
}

// reportLifetime tells the user, once for each lifetime Salesforce reports, when
// spec.sessionTimeout disagrees with it: the operator follows Salesforce, but a token that
// cannot be introspected later (a change of the connected app's settings, a new flow)
// falls back to the spec.
func (r *Reconciler) reportLifetime(p *pass, f *facts, tok *tokensecret.Token) {
	if !tok.Introspected {
		return
	}
	lifetime := tok.ExpiresAt.Sub(tok.IssuedAt)
	if within(lifetime, f.sessionTimeout, lifetimeTolerance) {
		return
	}
	prev := p.conn.Status
	if prev.ExpirySource == sfv1.ExpirySourceIntrospection && prev.IssuedAt != nil && prev.ExpiresAt != nil &&
		within(prev.ExpiresAt.Sub(prev.IssuedAt.Time), lifetime, lifetimeTolerance) {
		return
	}
	suggest := lifetime.Round(time.Minute)
	r.event(p, corev1.EventTypeWarning, sfv1.EventSessionTimeoutMismatch, "Introspect",
		"Salesforce says this token lives %s (introspection), spec.sessionTimeout says %s: the operator follows Salesforce; set spec.sessionTimeout: %s to match",
		shortDuration(suggest), shortDuration(f.sessionTimeout), shortDuration(suggest))
}

func within(a, b, tolerance time.Duration) bool {
	d := a - b
	return d <= tolerance && d >= -tolerance
}

// shortDuration prints 2h0m0s as 2h and 15m0s as 15m, as a spec would say it.
func shortDuration(d time.Duration) string {
	s := d.String()
	for _, suffix := range []string{"m0s", "h0m"} {
		if len(s) > len(suffix) && s[len(s)-len(suffix):] == suffix {
			s = s[:len(s)-len(suffix)+1]
		}
	}
	return s
}
