package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
)

// MaxRestartsPerSelector bounds the workloads one selector target restarts: a tenant's
// selector must not make the operator patch every workload of a large namespace, nor
// list them all. The first by name are restarted, and an event says the rest were not.
const MaxRestartsPerSelector = 20

// KindRollout is an Argo Rollout, restarted through its spec.restartAt.
const KindRollout = "Rollout"

// restartGVKs are the kinds a target may name. Rollouts are reached by group, version and
// kind, without Argo Rollouts' Go types: the operator needs one field of theirs.
var restartGVKs = map[string]schema.GroupVersionKind{
	"Deployment":  {Group: "apps", Version: "v1", Kind: "Deployment"},
	"StatefulSet": {Group: "apps", Version: "v1", Kind: "StatefulSet"},
	"DaemonSet":   {Group: "apps", Version: "v1", Kind: "DaemonSet"},
	KindRollout:   {Group: "argoproj.io", Version: "v1alpha1", Kind: "Rollout"},
}

// workload is one workload to restart.
type workload struct{ kind, name string }

func (w workload) String() string { return w.kind + "/" + w.name }

// describeTarget names a target in events: its workload, or its kind and selector.
func describeTarget(t sfv1.RolloutRestartTarget) string {
	if t.Selector == nil {
		return t.Kind + "/" + t.Name
	}
	return fmt.Sprintf("%s selected by %q", t.Kind, metav1.FormatLabelSelector(t.Selector))
}

// restartPatch is the merge patch that restarts a workload of kind at now. Deployments,
// StatefulSets and DaemonSets replace their pods when the pod template changes, as
// kubectl rollout restart makes them do with an annotation. A Rollout's template change
// would start a whole canary or blue-green update, analysis and all; its spec.restartAt
// instead makes the Argo Rollouts controller evict, within maxUnavailable and the
// PodDisruptionBudgets, every pod created before that time (kubectl argo rollouts
// restart). Both take the time in RFC 3339, UTC. Pure.
func restartPatch(kind string, now time.Time) []byte {
	var patch map[string]any
	if kind == KindRollout {
		patch = map[string]any{"spec": map[string]any{"restartAt": stamp(now)}}
	} else {
		patch = map[string]any{"spec": map[string]any{"template": map[string]any{
			"metadata": map[string]any{"annotations": map[string]string{AnnotationRestartedAt: stamp(now)}}}}}
	}
	b, _ := json.Marshal(patch)
	return b
}

// restartOutcome is what a failed patch or list means for a target.
type restartOutcome int

const (
	// outcomeSkip: nothing changes until someone changes something (the workload, the
	// spec, the operator's rights); retrying would only repeat the failure.
	outcomeSkip restartOutcome = iota
	// outcomeNoKind: the cluster does not serve the kind (Argo Rollouts not installed).
	outcomeNoKind
	// outcomeRetry: a passing failure of the API server.
	outcomeRetry
)

// classifyRestartError says what a failed call on a target means. Pure.
func classifyRestartError(err error) restartOutcome {
	switch {
	case meta.IsNoMatchError(err):
		return outcomeNoKind
	case apierrors.IsNotFound(err), apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err),
		apierrors.IsMethodNotSupported(err), errors.Is(err, errInvalidSelector):
		return outcomeSkip
	}
	return outcomeRetry
}

var errInvalidSelector = errors.New("invalid selector")

// selectWorkloads lists, by metadata only and uncached, the workloads of t's kind its
// selector chooses in namespace: at most MaxRestartsPerSelector, the first by name, and
// whether there were more. The list asks the API server for no more than that, so a
// selector matching thousands costs one bounded page.
func (r *Reconciler) selectWorkloads(ctx context.Context, namespace string, t sfv1.RolloutRestartTarget) ([]workload, bool, error) {
	sel, err := metav1.LabelSelectorAsSelector(t.Selector)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", errInvalidSelector, err)
	}
	list := &metav1.PartialObjectMetadataList{}
	gvk := restartGVKs[t.Kind]
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.APIReader.List(ctx, list, client.InNamespace(namespace), client.MatchingLabelsSelector{Selector: sel},
		client.Limit(MaxRestartsPerSelector)); err != nil {
		return nil, false, err
	}
	names := make([]string, 0, len(list.Items))
	for _, o := range list.Items {
		names = append(names, o.Name)
	}
	names, more := firstNames(names, MaxRestartsPerSelector)
	out := make([]workload, len(names))
	for i, n := range names {
		out[i] = workload{t.Kind, n}
	}
	return out, more || list.Continue != "", nil
}

// firstNames is the first n names in order, and whether there were more. Pure.
func firstNames(names []string, n int) ([]string, bool) {
	names = slices.Clone(names)
	slices.Sort(names)
	if len(names) > n {
		return names[:n], true
	}
	return names, false
}

// restartRun is the outcome of one restart of the targets, for the events.
type restartRun struct {
	restarted, skipped, failed, truncated []string
	// noKind lists the targets whose kind the cluster does not serve, and missingKinds
	// those kinds.
	noKind, missingKinds []string
	seen                 map[workload]bool
}

func (run *restartRun) fail(kind, desc string, err error) {
	switch classifyRestartError(err) {
	case outcomeNoKind:
		run.noKind = append(run.noKind, desc)
		if !slices.Contains(run.missingKinds, kind) {
			run.missingKinds = append(run.missingKinds, kind)
		}
	case outcomeSkip:
		run.skipped = append(run.skipped, fmt.Sprintf("%s (%s)", desc, restartErrorReason(err)))
	default:
		run.failed = append(run.failed, desc)
	}
}

// restartErrorReason is a short, secret-free reason for a skipped target: the API
// server's reason, or what is wrong with the selector.
func restartErrorReason(err error) string {
	if errors.Is(err, errInvalidSelector) {
		return err.Error()
	}
	return string(apierrors.ReasonForError(err))
}

// restartTarget restarts the workloads of one target, once each per run.
func (r *Reconciler) restartTarget(ctx context.Context, p *pass, t sfv1.RolloutRestartTarget, run *restartRun) {
	desc := describeTarget(t)
	targets := []workload{{t.Kind, t.Name}}
	if t.Selector != nil {
		selected, more, err := r.selectWorkloads(ctx, p.conn.Namespace, t)
		if err != nil {
			if classifyRestartError(err) == outcomeRetry {
				p.log.Error(err, "Listing rollout restart targets failed", "target", desc)
			}
			run.fail(t.Kind, desc, err)
			return
		}
		if more {
			run.truncated = append(run.truncated, desc)
		}
		targets = selected
	}
	for _, w := range targets {
		if run.seen[w] {
			continue
		}
		run.seen[w] = true
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(restartGVKs[w.kind])
		obj.SetNamespace(p.conn.Namespace)
		obj.SetName(w.name)
		err := r.Client.Patch(ctx, obj, client.RawPatch(types.MergePatchType, restartPatch(w.kind, p.now)))
		if err == nil {
			run.restarted = append(run.restarted, w.String())
			continue
		}
		if classifyRestartError(err) == outcomeRetry {
			p.log.Error(err, "Rollout restart failed", "target", w.String())
		}
		run.fail(w.kind, w.String(), err)
	}
}
