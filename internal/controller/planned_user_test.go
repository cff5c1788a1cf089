package controller

import (
	"testing"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/authflow"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

// The renewal is booked under the user key the next pass computes: after a login that told
// the user's ids, the one status.principal will give; otherwise this pass's own.
func TestPlannedUser(t *testing.T) {
	conn := &sfv1.SalesforceConnection{Spec: sfv1.SalesforceConnectionSpec{LoginURL: "https://example.my.salesforce.com"}}
	host := authflow.LoginURL(conn)
	inputs := &authflow.Inputs{}
	inputs.Request.ClientID = "client"
	withIDs := &tokensecret.Token{Data: map[string][]byte{tokensecret.KeyOrgID: []byte("00Dx"), tokensecret.KeyUserID: []byte("005x")}}
	noOrg := &tokensecret.Token{Data: map[string][]byte{tokensecret.KeyUserID: []byte("005x")}}
	f := &facts{user: "this pass's key"}
	for _, tc := range []struct {
		name    string
		renewed bool
		token   *tokensecret.Token
		want    string
	}{
		{"a login told the ids: the principal's key", true, withIDs, userIDKey(host, "client", "00Dx", "005x")},
		{"no login in this pass: the pass's key", false, withIDs, "this pass's key"},
		{"a login without the org's id records no principal", true, noOrg, "this pass's key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &pass{conn: conn, token: tc.token, renewed: tc.renewed, inputs: inputs}
			if got := plannedUser(p, f); got != tc.want {
				t.Fatalf("plannedUser = %q, want %q", got, tc.want)
			}
		})
	}
	// The next pass, with the principal recorded, computes the same key.
	conn.Status.Principal = &sfv1.Principal{ClientID: "client", OrgID: "00Dx", UserID: "005x"}
	if got, want := userKey(&pass{conn: conn}, inputs), userIDKey(host, "client", "00Dx", "005x"); got != want {
		t.Fatalf("userKey = %q, want %q", got, want)
	}
}
