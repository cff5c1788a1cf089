package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

func TestMemoryOfStatusPatches(t *testing.T) {
	key := types.NamespacedName{Namespace: "a", Name: "crm"}
	remembered := func(m *memory) bool {
		_, ok := m.patchedFrom.load(key)
		return ok
	}
	for name, tc := range map[string]struct {
		then       func(*memory)
		wantBehind bool
	}{
		"the cache has not shown the patch yet":     {then: func(*memory) {}, wantBehind: true},
		"the cache moved past the replaced version": {then: func(m *memory) { m.movedPast(key, "10") }},
		"an older update comes late":                {then: func(m *memory) { m.movedPast(key, "9") }, wantBehind: true},
		"the patch failed":                          {then: func(m *memory) { m.notPatched(key, "10") }},
	} {
		t.Run(name, func(t *testing.T) {
			var m memory
			if m.behind(key, "10") {
				t.Fatal("behind with no patch remembered")
			}
			m.patching(key, "10")
			tc.then(&m)
			if got := m.behind(key, "10"); got != tc.wantBehind {
				t.Errorf("behind the replaced version = %v, want %v", got, tc.wantBehind)
			}
			if got := remembered(&m); got != tc.wantBehind {
				t.Errorf("remembered = %v, want %v", got, tc.wantBehind)
			}
		})
	}
	// A pass that finds the cache past the replaced version forgets it too: an older copy
	// seen later says nothing.
	var m memory
	m.patching(key, "10")
	if m.behind(key, "11") || remembered(&m) || m.behind(key, "10") {
		t.Error("the replaced version is remembered after the cache showed a newer one")
	}
}
