package controller

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/sfconn/sfconn-operator/internal/secretversions"
)

func secretAt(name, rv string) *corev1.Secret {
	s := &corev1.Secret{}
	s.Namespace, s.Name, s.ResourceVersion = "billing", name, rv
	return s
}

func configMapAt(name, rv string) *corev1.ConfigMap {
	c := &corev1.ConfigMap{}
	c.Namespace, c.Name, c.ResourceVersion = "billing", name, rv
	return c
}

// wrote tells w of a successful write of obj.
func wrote(w *ownWrites, obj client.Object) {
	w.Begin(obj)
	w.End(obj, true)
}

// The watch events that only bring back the operator's own last write are dropped; any
// other version, another object, another kind of the same name, and every deletion pass.
func TestOwnWritesDropOnlyEchoes(t *testing.T) {
	var w ownWrites
	wrote(&w, secretAt("crm-token", "10"))
	failed := secretAt("crm-key", "20")
	w.Begin(failed)
	w.End(failed, false)
	pred := w.echoFilter()

	for _, tc := range []struct {
		name string
		pass bool
		ev   func() bool
	}{
		{"creation at the version written", false, func() bool { return pred.Create(event.CreateEvent{Object: secretAt("crm-token", "10")}) }},
		{"update to the version written", false, func() bool {
			return pred.Update(event.UpdateEvent{ObjectOld: secretAt("crm-token", "9"), ObjectNew: secretAt("crm-token", "10")})
		}},
		{"someone else's edit after it", true, func() bool {
			return pred.Update(event.UpdateEvent{ObjectOld: secretAt("crm-token", "10"), ObjectNew: secretAt("crm-token", "11")})
		}},
		{"an object never written", true, func() bool { return pred.Create(event.CreateEvent{Object: secretAt("other", "10")}) }},
		{"a failed write", true, func() bool { return pred.Create(event.CreateEvent{Object: secretAt("crm-key", "20")}) }},
		{"a ConfigMap of the same name and version", true, func() bool {
			return pred.Create(event.CreateEvent{Object: configMapAt("crm-token", "10")})
		}},
		{"a generic event", true, func() bool { return pred.Generic(event.GenericEvent{Object: secretAt("crm-token", "10")}) }},
	} {
		if got := tc.ev(); got != tc.pass {
			t.Errorf("%s: passes %v, want %v", tc.name, got, tc.pass)
		}
	}

	// A deletion passes, and the Secret is forgotten: the version a re-creation by someone
	// else gets is news whatever it is.
	if !pred.Delete(event.DeleteEvent{Object: secretAt("crm-token", "10")}) {
		t.Errorf("a deletion was dropped")
	}
	if !pred.Create(event.CreateEvent{Object: secretAt("crm-token", "10")}) {
		t.Errorf("after the deletion, the old version is still taken for an echo")
	}
}

// An event that comes before the answer to the write waits for it, and is then judged
// against the version the write produced.
func TestOwnWritesEventBeforeAnswer(t *testing.T) {
	var w ownWrites
	pred := w.echoFilter()
	s := secretAt("crm-token", "")
	w.Begin(s)
	result := make(chan bool)
	go func() { result <- pred.Create(event.CreateEvent{Object: secretAt("crm-token", "7")}) }()
	s.ResourceVersion = "7"
	w.End(s, true)
	if <-result {
		t.Errorf("the echo that came before the write's answer was passed")
	}
}

// fakeVersions answers Version from a map.
type fakeVersions map[types.NamespacedName]string

func (f fakeVersions) Version(key types.NamespacedName) (string, secretversions.State) {
	rv, ok := f[key]
	switch {
	case !ok:
		return "", secretversions.Unknown
	case rv == "":
		return "", secretversions.Missing
	}
	return rv, secretversions.Present
}

func (fakeVersions) Observe(types.NamespacedName, string) {}

// The Secret versions source maps a Secret to the connections that name it unless its
// current version is the operator's own last write.
func TestSecretsNotEchoed(t *testing.T) {
	var w ownWrites
	wrote(&w, secretAt("crm-token", "10"))
	token := types.NamespacedName{Namespace: "billing", Name: "crm-token"}
	versions := fakeVersions{token: "10"}
	conn := reconcile.Request{NamespacedName: types.NamespacedName{Namespace: "billing", Name: "crm"}}
	mapFn := w.secretsNotEchoed(versions, func(context.Context, types.NamespacedName) []reconcile.Request {
		return []reconcile.Request{conn}
	})
	ctx := context.Background()
	if got := mapFn(ctx, token); len(got) != 0 {
		t.Errorf("own write: woke %v, want nobody", got)
	}
	versions[token] = "11"
	if got := mapFn(ctx, token); len(got) != 1 {
		t.Errorf("someone else's edit: woke %v, want the connection", got)
	}
	versions[token] = ""
	if got := mapFn(ctx, token); len(got) != 1 {
		t.Errorf("deletion: woke %v, want the connection", got)
	}
	// Forgotten with the deletion: the same version again is not taken for an echo.
	versions[token] = "10"
	if got := mapFn(ctx, token); len(got) != 1 {
		t.Errorf("after the deletion: woke %v, want the connection", got)
	}
	other := types.NamespacedName{Namespace: "billing", Name: "creds"}
	if got := mapFn(ctx, other); len(got) != 1 {
		t.Errorf("a Secret the operator did not write: woke %v, want the connection", got)
	}
}
