package approvals

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/salesforce"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func holder(name, id string, since time.Duration) sfv1.SalesforceConnection {
	c := sfv1.SalesforceConnection{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name}}
	if id != "" {
		c.Status.Approval = &sfv1.ApprovalRef{ID: id, Since: metav1.NewTime(t0.Add(since))}
	}
	return c
}

// clusterHolder is the view of a ClusterSalesforceConnection that holds approval id.
func clusterHolder(name, id string, since time.Duration) sfv1.SalesforceConnection {
	c := &sfv1.ClusterSalesforceConnection{ObjectMeta: metav1.ObjectMeta{Name: name}}
	c.Status.Approval = &sfv1.ApprovalRef{ID: id, Since: metav1.NewTime(t0.Add(since))}
	return *c.AsConnection("ns")
}

func TestCompute(t *testing.T) {
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
		{"a cluster connection is one holder, named by its kind", []sfv1.SalesforceConnection{holder("a", "1", 0), clusterHolder("crm", "2", time.Hour)},
			2, []string{"ns/a", "ClusterSalesforceConnection/crm"}},
		{"a cluster connection and a namespaced one of the same name are two holders", []sfv1.SalesforceConnection{
			holder("crm", "1", 0), clusterHolder("crm", "1", time.Hour)}, 1, []string{"ClusterSalesforceConnection/crm", "ns/crm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := Compute(tt.conns)
			if v.Count() != tt.count {
				t.Errorf("count = %d, want %d", v.Count(), tt.count)
			}
			if got := v.Holders(); !slices.Equal(got, tt.holders) {
				t.Errorf("holders = %v, want %v", got, tt.holders)
			}
		})
	}
}

func TestIDIsKeyed(t *testing.T) {
	a, b := ID([]byte("key-1"), "5Aep861token"), ID([]byte("key-2"), "5Aep861token")
	if a == b {
		t.Error("the same token gave the same id under two keys")
	}
	if a != ID([]byte("key-1"), "5Aep861token") {
		t.Error("the id is not stable")
	}
	if ID([]byte("key-1"), "other") == a {
		t.Error("two tokens gave one id")
	}
}

func TestKeys(t *testing.T) {
	c := &sfv1.SalesforceConnection{}
	if len(Keys(c)) != 0 {
		t.Error("keys before any login")
	}
	c.Spec.Auth.DeviceLogin = &sfv1.DeviceLoginAuth{ClientID: "cid", Username: "Ann@x"}
	if got := Keys(c); !slices.Equal(got, []string{"name:cid/ann@x"}) {
		t.Errorf("device keys = %v", got)
	}
	c.Status.Principal = &sfv1.Principal{OrgID: "00D", ClientID: "cid", UserID: "005", Username: "ann@x"}
	if got := Keys(c); !slices.Equal(got, []string{"id:cid/00D/005", "name:cid/ann@x"}) {
		t.Errorf("keys = %v", got)
	}
}

func TestNextApproval(t *testing.T) {
	prev := &sfv1.ApprovalRef{ID: "a", Since: metav1.NewTime(t0)}
	if NextApproval(prev, false, false, "a", false, t0) != nil {
		t.Error("a flow without approvals holds one")
	}
	if got := NextApproval(prev, true, false, "a", false, t0.Add(time.Hour)); got != prev {
		t.Errorf("same approval: %+v, want the previous one with its since", got)
	}
	if got := NextApproval(prev, true, false, "b", true, t0.Add(time.Hour)); got.ID != "b" || !got.Since.Time.Equal(t0.Add(time.Hour)) || !got.MintedByOperator {
		t.Errorf("new approval: %+v", got)
	}
	if got := NextApproval(prev, true, true, "", false, t0); got != nil {
		t.Errorf("revoked: %+v, want none", got)
	}
	if got := NextApproval(prev, true, false, "", false, t0); got != prev {
		t.Errorf("no login: %+v, want the previous one", got)
	}
}

func TestNextPrincipal(t *testing.T) {
	prev := &sfv1.Principal{OrgID: "00D", ClientID: "cid", UserID: "005", Username: "ann@x"}
	if NextPrincipal(prev, false, false, "", "", "", "") != nil {
		t.Error("a principal without a token")
	}
	if NextPrincipal(prev, true, false, "", "", "", "") != prev {
		t.Error("a kept token changed the principal")
	}
	if got := NextPrincipal(prev, true, true, "cid", "00D", "005", ""); got.Username != "ann@x" {
		t.Errorf("a new token of the same user lost the username: %+v", got)
	}
	if got := NextPrincipal(prev, true, true, "cid", "00D", "006", ""); got.Username != "" {
		t.Errorf("a new user kept the old username: %+v", got)
	}
	if NextPrincipal(prev, true, true, "cid", "", "", "") != nil {
		t.Error("a token without ids has a principal")
	}
}

func TestSummarize(t *testing.T) {
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	var found []salesforce.OAuthApproval
	for i := 7; i >= 1; i-- { // newest first, as an unordered answer might come
		found = append(found, salesforce.OAuthApproval{ID: "0CJ00000000000" + string(rune('0'+i)), Created: at(i), LastUsed: at(i + 1), UseCount: i})
	}
	found[0].LastUsed = time.Time{}
	sa := Summarize("Billing", t0, found, nil)
	if sa.Count == nil || *sa.Count != 7 || sa.AppName != "Billing" || !sa.CheckedAt.Time.Equal(t0) {
		t.Fatalf("summary = %+v", sa)
	}
	if len(sa.Oldest) != 5 || sa.Oldest[0].ID != "0CJ000000000001" || !sa.Oldest[0].CreatedDate.Time.Equal(at(1)) {
		t.Fatalf("oldest = %+v", sa.Oldest)
	}
	if d := DescribeOldest(sa); !strings.Contains(d, "0CJ000000000001") || !strings.Contains(d, "last used") {
		t.Fatalf("DescribeOldest = %q", d)
	}

	failed := Summarize("Billing", t0, nil, &salesforce.Error{Class: salesforce.Terminal, Code: "API_DISABLED_FOR_ORG", Message: "refused"})
	if failed.Count != nil || !strings.Contains(failed.Message, "API_DISABLED_FOR_ORG") || SalesforceCount(failed) != -1 {
		t.Fatalf("failed summary = %+v", failed)
	}
	if SalesforceCount(nil) != -1 {
		t.Fatal("no summary must count as unknown")
	}
}

func TestNewApprovalRefusal(t *testing.T) {
	four := Compute([]sfv1.SalesforceConnection{holder("a", "1", 0), holder("b", "2", 0), holder("c", "3", 0), holder("d", "4", 0)})
	five := Compute([]sfv1.SalesforceConnection{holder("a", "1", 0), holder("b", "2", 0), holder("c", "3", 0), holder("d", "4", 0), holder("e", "5", 0)})
	n := int32(5)
	sfFive := &sfv1.SalesforceApprovals{AppName: "Billing", Count: &n, CheckedAt: metav1.NewTime(t0)}
	if r := NewApprovalRefusal("ann@x", four, nil); r != "" {
		t.Errorf("four in the cluster refused: %s", r)
	}
	if r := NewApprovalRefusal("ann@x", five, nil); !strings.Contains(r, "sixth approval for ann@x") || !strings.Contains(r, "ns/a") {
		t.Errorf("five in the cluster: %q", r)
	}
	if r := NewApprovalRefusal("ann@x", four, sfFive); !strings.Contains(r, "Salesforce held 5 approvals") {
		t.Errorf("five in Salesforce: %q", r)
	}
}

func TestListsAreBounded(t *testing.T) {
	var conns []sfv1.SalesforceConnection
	for i := range 300 {
		conns = append(conns, holder(fmt.Sprintf("c%03d", i), "shared", 0))
	}
	for i := range 7 {
		conns = append(conns, holder(fmt.Sprintf("own%d", i), fmt.Sprint("id", i), time.Duration(i+1)*time.Hour))
	}
	v := Compute(conns)
	holders := v.Holders()
	if len(holders) != MaxHolders+1 || holders[MaxHolders] != "and 297 more" {
		t.Fatalf("holders = %v", holders)
	}
	d := v.Describe()
	if len(d) > 1024 || !strings.Contains(d, "and 295 more") || !strings.Contains(d, "and 3 more") {
		t.Fatalf("Describe() = %d bytes: %s", len(d), d)
	}
}

func TestPendingDeviceLoginsReserveAnApproval(t *testing.T) {
	pending := holder("laptop", "", 0)
	pending.Status.DeviceLogin = &sfv1.DeviceLoginStatus{UserCode: "ABCD", ExpiresAt: metav1.NewTime(t0.Add(10 * time.Minute))}
	v := Compute([]sfv1.SalesforceConnection{holder("a", "1", 0), pending})
	if v.Count() != 2 || !strings.Contains(v.Describe(), "ns/laptop (device login waiting for approval)") {
		t.Fatalf("count %d, %s: a pending device login must reserve an approval", v.Count(), v.Describe())
	}
}
