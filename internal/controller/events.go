package controller

import (
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// notice is a Kubernetes event about a connection. Reasons are stable CamelCase words
// that alerting and kubectl get events --field-selector reason=... can rely on.
type notice struct {
	eventType, reason, action, note string
}

// transitionEvents are the events for conditions that changed in this pass: each
// change a person may want to hear about gets one event, with the condition's reason,
// unless the pass already announced that reason. Pure.
func transitionEvents(prev, next []metav1.Condition, announced map[string]bool) []notice {
	var out []notice
	said := maps.Clone(announced)
	if said == nil {
		said = map[string]bool{}
	}
	add := func(e notice) {
		if !said[e.reason] {
			said[e.reason] = true
			out = append(out, e)
		}
	}
	changed := func(t string) (*metav1.Condition, bool) {
		n := meta.FindStatusCondition(next, t)
		p := meta.FindStatusCondition(prev, t)
		if n == nil {
			return nil, false
		}
		return n, p == nil || p.Status != n.Status || p.Reason != n.Reason
	}
	if c, ok := changed(sfv1.ConditionReady); ok {
		if c.Status == metav1.ConditionTrue {
			if p := meta.FindStatusCondition(prev, sfv1.ConditionReady); p != nil && p.Status != metav1.ConditionTrue {
				add(notice{corev1.EventTypeNormal, sfv1.EventReady, "Reconcile", c.Message})
			}
		} else {
			add(notice{corev1.EventTypeWarning, c.Reason, "Reconcile", c.Message})
		}
	}
	if c, ok := changed(sfv1.ConditionExpiring); ok && c.Status == metav1.ConditionTrue {
		add(notice{corev1.EventTypeWarning, c.Reason, "Renew", c.Message})
	}
	if c, ok := changed(sfv1.ConditionApprovalLimit); ok {
		switch {
		case c.Reason == sfv1.ReasonAtLimit:
			add(notice{corev1.EventTypeWarning, sfv1.EventApprovalLimitAtLimit, "Account", c.Message})
		case c.Reason == sfv1.ReasonWithinLimit && meta.IsStatusConditionTrue(prev, sfv1.ConditionApprovalLimit):
			add(notice{corev1.EventTypeNormal, sfv1.EventApprovalLimitWithinLimit, "Account", c.Message})
		}
	}
	return out
}
