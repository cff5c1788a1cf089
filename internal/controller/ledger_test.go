package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func holder(name, id string, since time.Duration) sfv1.SalesforceConnection {
	c := sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	if id != "" {
		c.Status.Approval = &sfv1.ApprovalRef{ID: id, Since: metav1.NewTime(t0.Add(since))}
	}
	return c
}

func TestComputeLedger(t *testing.T) {
	deleting := holder("gone", "z", 0)
	now := metav1.NewTime(t0)
	deleting.DeletionTimestamp = &now
	tests := []struct {
		name    string
		conns   []sfv1.SalesforceConnection
		count   int
		holders []string
	}{
		{"none", nil, 0, nil},
		{"connections without approvals", []sfv1.SalesforceConnection{holder("jwt", "", 0)}, 0, nil},
		{"distinct tokens, oldest first", []sfv1.SalesforceConnection{holder("b", "2", time.Hour), holder("a", "1", 2*time.Hour), holder("c", "3", 0)},
			3, []string{"ns/c", "ns/b", "ns/a"}},
		{"a shared token counts once, from its earliest holder", []sfv1.SalesforceConnection{
			holder("x", "1", time.Hour), holder("y", "1", 0), holder("z", "2", 30*time.Minute)},
			2, []string{"ns/x", "ns/y", "ns/z"}},
		{"a connection being deleted holds nothing", []sfv1.SalesforceConnection{holder("a", "1", 0), deleting}, 1, []string{"ns/a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := computeLedger(tt.conns)
			if v.count() != tt.count {
				t.Errorf("count = %d, want %d", v.count(), tt.count)
			}
			if got := v.holders(); len(got) != len(tt.holders) || (len(got) > 0 && !equalStrings(got, tt.holders)) {
				t.Errorf("holders = %v, want %v", got, tt.holders)
			}
		})
	}
}

func equalStrings(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return len(a) == len(b)
}

func TestApprovalIDIsKeyed(t *testing.T) {
	a, b := approvalID([]byte("key-1"), "5Aep861token"), approvalID([]byte("key-2"), "5Aep861token")
	if a == b {
		t.Error("the same token gave the same id under two keys")
	}
	if a != approvalID([]byte("key-1"), "5Aep861token") {
		t.Error("the id is not stable")
	}
	if approvalID([]byte("key-1"), "other") == a {
		t.Error("two tokens gave one id")
	}
}

func TestPrincipalKeys(t *testing.T) {
	c := &sfv1.SalesforceConnection{}
	if len(principalKeys(c)) != 0 {
		t.Error("keys before any login")
	}
	c.Spec.Auth.DeviceLogin = &sfv1.DeviceLoginAuth{ClientID: "cid", Username: "Ann@x"}
	if got := principalKeys(c); len(got) != 1 || got[0] != "name:cid/ann@x" {
		t.Errorf("device keys = %v", got)
	}
	c.Status.Principal = &sfv1.Principal{OrgID: "00D", ClientID: "cid", UserID: "005", Username: "ann@x"}
	if got := principalKeys(c); len(got) != 2 || got[0] != "id:cid/00D/005" || got[1] != "name:cid/ann@x" {
		t.Errorf("keys = %v", got)
	}
}

func TestPrincipalIndexHoldsOnlyApprovalHolders(t *testing.T) {
	principal := &sfv1.Principal{OrgID: "00D", ClientID: "cid", UserID: "005", Username: "ann@x"}
	jwt := &sfv1.SalesforceConnection{Spec: sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{}}},
		Status: sfv1.SalesforceConnectionStatus{Principal: principal}}
	if keys := principalIndexKeys(jwt); len(keys) != 0 {
		t.Errorf("a JWT connection is indexed under %v: its peers would wake on each of its changes", keys)
	}
	rt := &sfv1.SalesforceConnection{Spec: sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{}}},
		Status: sfv1.SalesforceConnectionStatus{Principal: principal}}
	if keys := principalIndexKeys(rt); len(keys) != 2 {
		t.Errorf("a refresh token connection's index keys = %v, want its two principal keys", keys)
	}
}

func TestNextApproval(t *testing.T) {
	refresh := &sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{RefreshToken: &sfv1.RefreshTokenAuth{}}}
	jwt := &sfv1.SalesforceConnectionSpec{Auth: sfv1.AuthSpec{JWTBearer: &sfv1.JWTBearerAuth{}}}
	prev := &sfv1.ApprovalRef{ID: "a", Since: metav1.NewTime(t0)}
	if nextApproval(prev, jwt, &outcome{approvalID: "a"}, t0) != nil {
		t.Error("a JWT connection holds no approval")
	}
	if got := nextApproval(prev, refresh, &outcome{approvalID: "a"}, t0.Add(time.Hour)); got != prev {
		t.Errorf("same approval: %+v, want the previous one with its since", got)
	}
	if got := nextApproval(prev, refresh, &outcome{approvalID: "b"}, t0.Add(time.Hour)); got.ID != "b" || !got.Since.Time.Equal(t0.Add(time.Hour)) {
		t.Errorf("new approval: %+v", got)
	}
	if got := nextApproval(prev, refresh, &outcome{failure: &failure{reason: sfv1.ReasonRevoked}}, t0); got != nil {
		t.Errorf("revoked: %+v, want none", got)
	}
	if got := nextApproval(prev, refresh, &outcome{}, t0); got != prev {
		t.Errorf("no login: %+v, want the previous one", got)
	}
}
