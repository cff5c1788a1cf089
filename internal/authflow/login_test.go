package authflow

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/failure"
	"github.com/sfconn/sfconn-operator/internal/salesforce/emulator"
)

const securityTokenHint = "has no security_token"

func TestPasswordLogin(t *testing.T) {
	ref := sfv1.SecretReference{Name: credsName}
	auth := sfv1.AuthSpec{Password: &sfv1.PasswordAuth{ClientID: appID, CredentialsSecretRef: ref}}
	tests := []struct {
		name   string
		secret *corev1.Secret
		before func(t *testing.T, w *world)
		// class and reason of the failure; empty for a token.
		class   failure.Class
		reason  string
		mention []string
		lacks   []string
	}{
		{name: "with the security token", secret: creds("client_secret", appSecret, "username", alice, "password", alicePassword, "security_token", aliceToken)},
		{name: "refused without the security token: the hint", secret: creds("client_secret", appSecret, "username", alice, "password", alicePassword),
			class: failure.Terminal, reason: sfv1.ReasonAuthenticationFailed,
			mention: []string{`Secret "creds"`, securityTokenHint, "authentication failure"}},
		{name: "refused with a wrong security token: no hint", secret: creds("client_secret", appSecret, "username", alice, "password", alicePassword, "security_token", "wrongTokenValue"),
			class: failure.Terminal, reason: sfv1.ReasonAuthenticationFailed,
			mention: []string{`Secret "creds"`, "authentication failure"}, lacks: []string{securityTokenHint, "wrongTokenValue"}},
		{name: "a wrong client secret", secret: creds("client_secret", "wrong-client-secret", "username", alice, "password", alicePassword, "security_token", aliceToken),
			class: failure.Terminal, reason: sfv1.ReasonAuthenticationFailed,
			mention: []string{`Secret "creds"`, "invalid_client"}, lacks: []string{"wrong-client-secret"}},
		{name: "the login rate limit", secret: creds("client_secret", appSecret, "username", limited, "password", limitedPass),
			before: func(t *testing.T, w *world) {
				// The user's one login of the hour.
				flow, in := flowFor(t, w.conn(auth), creds("client_secret", appSecret, "username", limited, "password", limitedPass))
				w.mustToken(flow, in)
			},
			class: failure.RateLimited, reason: sfv1.ReasonRateLimited, mention: []string{"login rate exceeded"}},
		{name: "a throttling proxy", secret: creds("client_secret", appSecret, "username", alice, "password", alicePassword, "security_token", aliceToken),
			before: func(t *testing.T, w *world) {
				w.jsonFault(429, "too_many_requests", "slow down")
			},
			class: failure.RateLimited, reason: sfv1.ReasonRateLimited},
		{name: "Salesforce down for maintenance", secret: creds("client_secret", appSecret, "username", alice, "password", alicePassword, "security_token", aliceToken),
			before: func(t *testing.T, w *world) {
				if err := w.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Count: 1, Status: 503}); err != nil {
					t.Fatal(err)
				}
			},
			class: failure.Retryable, reason: sfv1.ReasonSalesforceUnavailable, mention: []string{"503"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if tt.before != nil {
				tt.before(t, w)
			}
			flow, in := flowFor(t, w.conn(auth), tt.secret)
			if tt.class == "" {
				res := w.mustToken(flow, in)
				if res.Token.RefreshToken != "" || res.ApprovalSource != "" || res.Minted {
					t.Errorf("a password login holds no approval: %+v", res)
				}
				if n := w.emu.Stats().SuccessfulLoginsByGrant[emulator.GrantPassword]; n != 1 {
					t.Errorf("successful password logins = %d, want 1", n)
				}
				if w.state(w.conn(auth)) != nil {
					t.Error("a password login wrote a state Secret")
				}
				return
			}
			fl := w.mustFail(flow, in, tt.class, tt.reason)
			for _, m := range tt.mention {
				if !strings.Contains(fl.Message, m) {
					t.Errorf("message %q does not mention %q", fl.Message, m)
				}
			}
			for _, m := range tt.lacks {
				if strings.Contains(fl.Message, m) {
					t.Errorf("message %q mentions %q", fl.Message, m)
				}
			}
			secrets := []string{}
			for _, v := range tt.secret.Data {
				if len(v) > 8 {
					secrets = append(secrets, string(v))
				}
			}
			// The Secret's values are secrets, the username aside (Salesforce's own words
			// never carry it, but it is not a secret either).
			noSecrets(t, "failure message", fl.Message, filter(secrets, alice, limited)...)
			w.noSecretsAnywhere()
		})
	}
}

func filter(values []string, drop ...string) []string {
	var out []string
	for _, v := range values {
		keep := true
		for _, d := range drop {
			keep = keep && v != d
		}
		if keep {
			out = append(out, v)
		}
	}
	return out
}

func TestClientCredentialsLogin(t *testing.T) {
	w := newWorld(t)
	conn := w.conn(sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: credsName}}})

	flow, in := flowFor(t, conn, creds("client_id", appID, "client_secret", appSecret))
	res := w.mustToken(flow, in)
	if !strings.HasSuffix(res.Token.ID, "/"+res.Token.UserID) || w.emu.Stats().SuccessfulLoginsByUser[runAs] != 1 {
		t.Errorf("the token is not the run-as user's: %+v, logins %v", res.Token.ID, w.emu.Stats().SuccessfulLoginsByUser)
	}
	if res.ApprovalSource != "" || res.Minted || flow.HoldsApproval() {
		t.Errorf("client credentials hold no approval: %+v", res)
	}

	flow, in = flowFor(t, conn, creds("client_id", appID, "client_secret", "not-the-client-secret"))
	fl := w.mustFail(flow, in, failure.Terminal, sfv1.ReasonAuthenticationFailed)
	if !strings.Contains(fl.Message, `Secret "creds"`) || !strings.Contains(fl.Message, "invalid_client") {
		t.Errorf("message %q names neither the Secret nor Salesforce's answer", fl.Message)
	}
	if strings.Contains(fl.Message, securityTokenHint) {
		t.Errorf("the password flow's hint in a client credentials refusal: %q", fl.Message)
	}
	noSecrets(t, "failure message", fl.Message, "not-the-client-secret", res.Token.AccessToken)
	w.noSecretsAnywhere(res.Token.AccessToken)
}

func TestJWTBearerLogin(t *testing.T) {
	keys := keyPairs(t)
	w := newWorld(t)
	conn := w.conn(sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: appID, Username: alice,
		CredentialsSecretRef: sfv1.SecretReference{Name: credsName}}})

	// The app holds the certificate of key 0.
	flow, in := flowFor(t, conn, creds("private_key", string(keys[0].KeyPEM)))
	res := w.mustToken(flow, in)
	if w.emu.Stats().SuccessfulLoginsByGrant[emulator.GrantJWTBearer] != 1 {
		t.Errorf("logins %v, want one JWT bearer login", w.emu.Stats().SuccessfulLoginsByGrant)
	}
	if res.Token.RefreshToken != "" || res.ApprovalSource != "" {
		t.Errorf("a JWT bearer login holds no approval: %+v", res)
	}

	flow, in = flowFor(t, conn, creds("private_key", string(keys[1].KeyPEM)))
	fl := w.mustFail(flow, in, failure.Terminal, sfv1.ReasonAuthenticationFailed)
	if !strings.Contains(fl.Message, "invalid assertion") || !strings.Contains(fl.Message, `Secret "creds"`) {
		t.Errorf("message %q names neither Salesforce's answer nor the Secret", fl.Message)
	}
	if strings.Contains(fl.Message, "admin-instructions") {
		t.Errorf("a key of one's own is no admin step: %q", fl.Message)
	}
	noSecrets(t, "failure message", fl.Message, string(keys[1].KeyPEM), res.Token.AccessToken)
}

func TestGeneratedKeyLogin(t *testing.T) {
	keys := keyPairs(t)
	current, next, other := keys[0], keys[1], keys[2]
	tests := []struct {
		name string
		// cert is the certificate the admin uploaded; "" uploads none.
		cert      []byte
		preAuth   bool
		keys      *fakeKeys
		promoted  int
		requests  int // JWT bearer requests the login makes
		wantToken bool
		step      string // for AwaitingAdmin: what the message names
	}{
		{name: "the current key", cert: current.CertPEM, preAuth: true,
			keys: &fakeKeys{current: current.KeyPEM, next: next.KeyPEM}, requests: 1, wantToken: true},
		{name: "the admin uploaded the next certificate", cert: next.CertPEM, preAuth: true,
			keys: &fakeKeys{current: current.KeyPEM, next: next.KeyPEM}, promoted: 1, requests: 2, wantToken: true},
		{name: "neither key's certificate: step 2", cert: other.CertPEM, preAuth: true,
			keys: &fakeKeys{current: current.KeyPEM, next: next.KeyPEM}, requests: 2, step: "step 2"},
		{name: "no next key and another certificate: step 2", cert: other.CertPEM, preAuth: true,
			keys: &fakeKeys{current: current.KeyPEM}, requests: 1, step: "step 2"},
		{name: "no certificate yet: step 2", preAuth: true,
			keys: &fakeKeys{current: current.KeyPEM}, requests: 1, step: "step 2"},
		{name: "the user is not pre-authorized: step 3", cert: current.CertPEM,
			keys: &fakeKeys{current: current.KeyPEM}, requests: 1, step: "step 3"},
		{name: "a next key that does not parse is skipped", cert: other.CertPEM, preAuth: true,
			keys: &fakeKeys{current: current.KeyPEM, next: []byte("not a key")}, requests: 1, step: "step 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newWorld(t)
			if err := w.emu.SetAppCertificate(genAppID, string(tt.cert)); err != nil {
				t.Fatal(err)
			}
			if err := w.emu.SetPreAuthorized(genAppID, alice, tt.preAuth); err != nil {
				t.Fatal(err)
			}
			conn := w.conn(sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: genAppID, Username: alice, GenerateKey: true,
				CredentialsSecretRef: sfv1.SecretReference{Name: credsName}}})
			flow, in := flowFor(t, conn, creds())
			env := w.env()
			env.Keys = tt.keys
			res, err := flow.Login(context.Background(), env, in)

			if got := w.grants(emulator.GrantJWTBearer); got != tt.requests {
				t.Errorf("JWT bearer requests = %d, want %d", got, tt.requests)
			}
			if tt.keys.promoted != tt.promoted {
				t.Errorf("PromoteNext called %d times, want %d", tt.keys.promoted, tt.promoted)
			}
			if tt.wantToken {
				if err != nil || res == nil || res.Token == nil || res.Token.AccessToken == "" {
					t.Fatalf("Login = %+v, %v; want a token", res, err)
				}
				return
			}
			fl := failure.As(err)
			if fl == nil || fl.Class != failure.WaitingForPerson || fl.Reason != sfv1.ReasonAwaitingAdmin {
				t.Fatalf("Login = %+v, %v; want AwaitingAdmin", res, err)
			}
			for _, m := range []string{tt.step, "kubectl sfconn admin-instructions crm -n ns", "every 5m"} {
				if !strings.Contains(fl.Message, m) {
					t.Errorf("message %q does not mention %q", fl.Message, m)
				}
			}
			noSecrets(t, "failure message", fl.Message, string(current.KeyPEM), string(next.KeyPEM))
		})
	}
}

func TestGeneratedKeyLoginFailures(t *testing.T) {
	keys := keyPairs(t)
	w := newWorld(t)
	conn := w.conn(sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{ClientID: genAppID, Username: alice, GenerateKey: true,
		CredentialsSecretRef: sfv1.SecretReference{Name: credsName}}})
	flow, in := flowFor(t, conn, creds())

	// A current key that does not parse is the operator's own fault: a plain error, not a
	// failed login, and no request.
	env := w.env()
	env.Keys = &fakeKeys{current: []byte("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n"), next: keys[0].KeyPEM}
	res, err := flow.Login(context.Background(), env, in)
	if err == nil || res != nil || failure.As(err) != nil {
		t.Fatalf("Login = %+v, %v; want a plain error", res, err)
	}
	if n := w.emu.Stats().TokenRequests; n != 0 {
		t.Errorf("%d token requests with an unparsable key", n)
	}

	// The next key accepted but not kept: the error is the API server's, and says so.
	if err := w.emu.SetAppCertificate(genAppID, string(keys[1].CertPEM)); err != nil {
		t.Fatal(err)
	}
	promoteErr := errors.New("updating Secret crm-jwt: etcd is unavailable")
	k := &fakeKeys{current: keys[0].KeyPEM, next: keys[1].KeyPEM, promoteErr: promoteErr}
	env = w.env()
	env.Keys = k
	res, err = flow.Login(context.Background(), env, in)
	if !errors.Is(err, promoteErr) || res != nil || k.promoted != 1 {
		t.Fatalf("Login = %+v, %v (promoted %d); want the promotion's error", res, err, k.promoted)
	}

	// An outage is not an admin step, and the next key is not tried on it.
	if err := w.emu.InjectFault(emulator.Fault{Endpoint: emulator.EndpointToken, Count: 1, Status: 503}); err != nil {
		t.Fatal(err)
	}
	before := w.grants(emulator.GrantJWTBearer)
	env = w.env()
	env.Keys = &fakeKeys{current: keys[0].KeyPEM, next: keys[1].KeyPEM}
	_, err = flow.Login(context.Background(), env, in)
	if fl := failure.As(err); fl == nil || fl.Class != failure.Retryable || fl.Reason != sfv1.ReasonSalesforceUnavailable {
		t.Fatalf("err = %v, want SalesforceUnavailable", err)
	}
	if n := w.grants(emulator.GrantJWTBearer) - before; n != 1 {
		t.Errorf("%d JWT requests on an outage, want 1: the next key is for refusals", n)
	}
}
