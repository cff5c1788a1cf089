package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

func TestRenewalOf(t *testing.T) {
	introspected := func(lifetime time.Duration) *issuedToken {
		tok := &issuedToken{issuedAt: t0, data: map[string][]byte{}}
		tok.setIntrospectedExpiry(t0.Add(lifetime))
		return tok
	}
	bySpec := &issuedToken{issuedAt: t0, data: map[string][]byte{}}
	bySpec.setLifetime(2 * time.Hour)
	tests := []struct {
		name           string
		tok            *issuedToken
		renewBefore    time.Duration
		renewBeforeSet bool
		// the renewal lies in (earliest, latest]: the jitter moves it earlier by up to 10%
		earliest, latest time.Duration
	}{
		{"spec lifetime, default renewBefore", bySpec, 40 * time.Minute, false, 76 * time.Minute, 80 * time.Minute},
		{"introspected 15m, default renewBefore: a third of the real lifetime", introspected(15 * time.Minute), 40 * time.Minute, false, 9*time.Minute + 30*time.Second, 10 * time.Minute},
		{"introspected 15m, renewBefore set longer than it: a third, not at once", introspected(15 * time.Minute), time.Hour, true, 9*time.Minute + 30*time.Second, 10 * time.Minute},
		{"introspected 4h, renewBefore set shorter: kept", introspected(4 * time.Hour), 10 * time.Minute, true, 229 * time.Minute, 230 * time.Minute},
		{"introspected 4h, default renewBefore: a third of the real lifetime", introspected(4 * time.Hour), 40 * time.Minute, false, 152 * time.Minute, 160 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFacts(func(f *facts) { f.renewBefore, f.renewBeforeSet = tt.renewBefore, tt.renewBeforeSet })
			got := f.renewalOf(tt.tok).Sub(t0)
			if got <= tt.earliest-time.Second || got > tt.latest {
				t.Fatalf("renewal %v after issue, want in (%v, %v]", got, tt.earliest, tt.latest)
			}
		})
	}

	// An introspected expiry does not follow the spec: no rewrite when sessionTimeout
	// changes, and it survives a round trip through the token Secret.
	tok := introspected(15 * time.Minute)
	if !tok.lifetimeMatches(2 * time.Hour) {
		t.Fatal("an introspected expiry was found to need a rewrite")
	}
	tok.setLifetime(2 * time.Hour)
	if !tok.expiresAt.Equal(t0.Add(15 * time.Minute)) {
		t.Fatalf("setLifetime moved an introspected expiry to %v", tok.expiresAt)
	}
	tok.data[KeyAccessToken] = []byte("00D!token")
	secret, err := desiredTokenSecret(&sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "ns"}}, tok)
	if err != nil {
		t.Fatal(err)
	}
	back, intact := storedToken(secret)
	if !intact || !back.introspected || !back.expiresAt.Equal(tok.expiresAt) || back.expirySource() != sfv1.ExpirySourceIntrospection {
		t.Fatalf("stored token lost its introspected expiry: %+v", back)
	}
	if bySpec.expirySource() != sfv1.ExpirySourceSessionTimeout {
		t.Fatal("a spec lifetime is not reported as SessionTimeout")
	}
}

func TestSalesforceApprovals(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	var found []salesforce.OAuthApproval
	for i := 7; i >= 1; i-- { // newest first, as an unordered answer might come
		found = append(found, salesforce.OAuthApproval{ID: "0CJ00000000000" + string(rune('0'+i)), Created: at(i), LastUsed: at(i + 1), UseCount: i})
	}
	found[0].LastUsed = time.Time{}
	sa := salesforceApprovals("Billing", t0, found, nil)
	if sa.Count == nil || *sa.Count != 7 || sa.AppName != "Billing" || !sa.CheckedAt.Time.Equal(t0) {
		t.Fatalf("summary = %+v", sa)
	}
	if len(sa.Oldest) != 5 || sa.Oldest[0].ID != "0CJ000000000001" || !sa.Oldest[0].CreatedDate.Time.Equal(at(1)) {
		t.Fatalf("oldest = %+v", sa.Oldest)
	}
	if d := describeOldest(sa); !strings.Contains(d, "0CJ000000000001") || !strings.Contains(d, "last used") {
		t.Fatalf("describeOldest = %q", d)
	}

	failed := salesforceApprovals("Billing", t0, nil, &salesforce.Error{Class: salesforce.Terminal, Code: "API_DISABLED_FOR_ORG", Message: "refused"})
	if failed.Count != nil || !strings.Contains(failed.Message, "API_DISABLED_FOR_ORG") || salesforceCount(failed) != -1 {
		t.Fatalf("failed summary = %+v", failed)
	}
	if salesforceCount(nil) != -1 {
		t.Fatal("no summary must count as unknown")
	}
}

func TestApprovalLimitFromSalesforce(t *testing.T) {
	count := func(n int32) *sfv1.SalesforceApprovals {
		return &sfv1.SalesforceApprovals{AppName: "Billing", Count: &n, CheckedAt: metav1.NewTime(t0),
			Oldest: []sfv1.SalesforceApproval{{ID: "0CJ000000000001GAA", CreatedDate: metav1.NewTime(t0.Add(-time.Hour))}}}
	}
	unknown := &sfv1.SalesforceApprovals{AppName: "Billing", CheckedAt: metav1.NewTime(t0), Message: "Salesforce did not list the approvals"}
	oneInCluster := &ledgerView{approvals: []heldApproval{{holders: []string{"ns/crm"}, since: t0}}}
	tests := []struct {
		name      string
		ledger    *ledgerView
		sf        *sfv1.SalesforceApprovals
		want      string // status/reason, "" for absent
		inMessage string
	}{
		{"no approvals anywhere known", nil, nil, "", ""},
		{"JWT flow, Salesforce holds four", nil, count(4), "False/WithinLimit", "Salesforce holds 4 of 5"},
		{"JWT flow, Salesforce holds five", nil, count(5), "True/AtLimit", "0 of them in the cluster"},
		{"one in the cluster, four elsewhere", oneInCluster, count(5), "True/AtLimit", "1 of them in the cluster"},
		{"one in the cluster, Salesforce holds two", oneInCluster, count(2), "False/WithinLimit", "Salesforce holds 2 of 5"},
		{"query failed: the cluster's count, and why", oneInCluster, unknown, "False/WithinLimit", "did not list"},
		{"query failed, no ledger: no condition", nil, unknown, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &sfv1.SalesforceConnectionStatus{}
			setApprovalLimit(st, newFacts(), &outcome{ledger: tt.ledger, salesforceApprovals: tt.sf})
			c := meta.FindStatusCondition(st.Conditions, sfv1.ConditionApprovalLimit)
			got := ""
			if c != nil {
				got = string(c.Status) + "/" + c.Reason
			}
			if got != tt.want {
				t.Fatalf("ApprovalLimit = %q, want %q", got, tt.want)
			}
			if c != nil && !strings.Contains(c.Message, tt.inMessage) {
				t.Fatalf("message %q lacks %q", c.Message, tt.inMessage)
			}
		})
	}
}

func TestVerifyHelpers(t *testing.T) {
	for _, tt := range []struct {
		err  error
		dead bool
	}{
		{nil, false},
		{&salesforce.Error{Class: salesforce.Terminal, StatusCode: 403}, true},
		{&salesforce.Error{Class: salesforce.Terminal, StatusCode: 401}, true},
		{&salesforce.Error{Class: salesforce.Retryable, StatusCode: 503}, false},
		{&salesforce.Error{Class: salesforce.Terminal, StatusCode: 400}, false},
		{errors.New("connection reset"), false},
	} {
		if got := tokenRefused(tt.err); got != tt.dead {
			t.Errorf("tokenRefused(%v) = %v", tt.err, got)
		}
	}
}

func TestAwaitingAdmin(t *testing.T) {
	generated := &sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: "crm", Namespace: "billing"},
		Spec: sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{GenerateKey: true, Username: "int@acme.com",
			CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}}}}
	own := generated.DeepCopy()
	own.Spec.Auth.JWTBearer.GenerateKey = false
	refused := func(code, desc string) error {
		return &salesforce.Error{Class: salesforce.Terminal, StatusCode: 400, Code: code, Description: desc}
	}
	tests := []struct {
		name string
		conn *sfv1.SalesforceConnection
		err  error
		step string // "" when not AwaitingAdmin
	}{
		{"unknown consumer key: the app", generated, refused("invalid_client_id", "client identifier invalid"), "step 1"},
		{"invalid assertion: the certificate", generated, refused("invalid_grant", "invalid assertion"), "step 2"},
		{"not approved: the user's pre-authorization", generated, refused("invalid_grant", "user hasn't approved this consumer"), "step 3"},
		{"another refusal still waits for the admin", generated, refused("invalid_grant", "audience is invalid"), "admin-instructions"},
		{"an outage is not an admin step", generated, &salesforce.Error{Class: salesforce.Retryable, StatusCode: 503}, ""},
		{"a key of one's own: the usual AuthenticationFailed", own, refused("invalid_grant", "invalid assertion"), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fl := awaitingAdmin(tt.err, tt.conn, newFacts())
			if tt.step == "" {
				if fl != nil {
					t.Fatalf("AwaitingAdmin for %v", tt.err)
				}
				return
			}
			if fl == nil || fl.reason != sfv1.ReasonAwaitingAdmin || fl.terminal || !fl.retryAt.Equal(t0.Add(awaitingAdminRetry)) {
				t.Fatalf("failure = %+v", fl)
			}
			if !strings.Contains(fl.message, tt.step) || !strings.Contains(fl.message, "kubectl sfconn admin-instructions crm -n billing") {
				t.Fatalf("message %q lacks %q or the plugin command", fl.message, tt.step)
			}
		})
	}

	text := adminInstructions(generated, nil, "invalid_grant: invalid assertion")
	for _, want := range []string{"billing/crm", "int@acme.com", "1. Create the connected app", "2. In the connected app, tick \"Use digital signatures\"",
		"crm-jwt-certificate", "3. In the connected app's policies", "Salesforce answered: invalid_grant: invalid assertion"} {
		if !strings.Contains(text, want) {
			t.Errorf("instructions lack %q:\n%s", want, text)
		}
	}
	if backoff(sfv1.ReasonAwaitingAdmin, 7, "uid") != awaitingAdminRetry {
		t.Fatal("AwaitingAdmin does not retry at its steady interval")
	}

	for in, want := range map[time.Duration]string{2 * time.Hour: "2h", 15 * time.Minute: "15m", 90 * time.Minute: "1h30m", 45 * time.Second: "45s"} {
		if got := shortDuration(in); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
