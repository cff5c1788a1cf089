package controller

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/approvals"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

func TestRenewalOf(t *testing.T) {
	introspected := func(lifetime time.Duration) *tokensecret.Token {
		tok := &tokensecret.Token{IssuedAt: t0, Data: map[string][]byte{}}
		tok.SetIntrospectedExpiry(t0.Add(lifetime))
		return tok
	}
	bySpec := &tokensecret.Token{IssuedAt: t0, Data: map[string][]byte{}}
	bySpec.SetLifetime(2 * time.Hour)
	tests := []struct {
		name           string
		tok            *tokensecret.Token
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
}

func TestApprovalLimitFromSalesforce(t *testing.T) {
	count := func(n int32) *sfv1.SalesforceApprovals {
		return &sfv1.SalesforceApprovals{AppName: "Billing", Count: &n, CheckedAt: metav1.NewTime(t0),
			Oldest: []sfv1.SalesforceApproval{{ID: "0CJ000000000001GAA", CreatedDate: metav1.NewTime(t0.Add(-time.Hour))}}}
	}
	unknown := &sfv1.SalesforceApprovals{AppName: "Billing", CheckedAt: metav1.NewTime(t0), Message: "Salesforce did not list the approvals"}
	oneInCluster := &approvals.View{Approvals: []approvals.Held{{Holders: []string{"ns/crm"}, Since: t0}}}
	tests := []struct {
		name      string
		ledger    *approvals.View
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
			p := &pass{conn: &sfv1.SalesforceConnection{}, status: &sfv1.SalesforceConnectionStatus{}}
			setApprovalLimit(p, tt.ledger, tt.sf)
			st := p.status
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

func TestShortDuration(t *testing.T) {
	for in, want := range map[time.Duration]string{2 * time.Hour: "2h", 15 * time.Minute: "15m", 90 * time.Minute: "1h30m", 45 * time.Second: "45s"} {
		if got := shortDuration(in); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
