package controller

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

func TestTransitionEvents(t *testing.T) {
	cond := func(typ string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: typ + " " + reason}
	}
	ready := cond(sfv1.ConditionReady, metav1.ConditionTrue, sfv1.ReasonTokenIssued)
	noCreds := cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonCredentialsNotFound)
	expired := cond(sfv1.ConditionReady, metav1.ConditionFalse, sfv1.ReasonExpired)
	renewalFailing := cond(sfv1.ConditionExpiring, metav1.ConditionTrue, sfv1.ReasonRenewalFailing)
	atLimit := cond(sfv1.ConditionApprovalLimit, metav1.ConditionTrue, sfv1.ReasonAtLimit)
	within := cond(sfv1.ConditionApprovalLimit, metav1.ConditionFalse, sfv1.ReasonWithinLimit)

	cases := []struct {
		name       string
		prev, next []metav1.Condition
		announced  map[string]bool
		want       []string
	}{
		{"first pass ready: the login announced it", nil, []metav1.Condition{ready}, nil, nil},
		{"nothing changed", []metav1.Condition{noCreds}, []metav1.Condition{noCreds}, nil, nil},
		{"became not ready", []metav1.Condition{ready}, []metav1.Condition{noCreds}, nil, []string{"Warning CredentialsNotFound"}},
		{"not ready, announced by the login", []metav1.Condition{ready}, []metav1.Condition{noCreds},
			map[string]bool{sfv1.ReasonCredentialsNotFound: true}, nil},
		{"ready again", []metav1.Condition{noCreds}, []metav1.Condition{ready}, nil, []string{"Normal Ready"}},
		{"renewal failing", []metav1.Condition{ready}, []metav1.Condition{ready, renewalFailing}, nil, []string{"Warning RenewalFailing"}},
		{"expired", []metav1.Condition{ready, renewalFailing}, []metav1.Condition{expired, cond(sfv1.ConditionExpiring, metav1.ConditionTrue, sfv1.ReasonExpired)},
			nil, []string{"Warning Expired"}},
		{"at the approval limit", []metav1.Condition{ready, within}, []metav1.Condition{ready, atLimit}, nil, []string{"Warning ApprovalLimitAtLimit"}},
		{"back within the limit", []metav1.Condition{ready, atLimit}, []metav1.Condition{ready, within}, nil, []string{"Normal ApprovalLimitWithinLimit"}},
		{"within the limit from the start", nil, []metav1.Condition{ready, within}, nil, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := transitionEvents(tc.prev, tc.next, tc.announced)
			var short []string
			for _, n := range got {
				short = append(short, n.eventType+" "+n.reason)
			}
			if len(short) != len(tc.want) {
				t.Fatalf("events = %v, want %v", short, tc.want)
			}
			for i := range short {
				if short[i] != tc.want[i] {
					t.Fatalf("events = %v, want %v", short, tc.want)
				}
			}
		})
	}
}
