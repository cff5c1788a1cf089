package tokensecret

import (
	"crypto/sha256"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
)

// Digest is a digest of what a token Secret holds that its writer chooses: name, data,
// type, labels, annotations, owner references and finalizers. What the API server sets (UID,
// times, versions, managed fields) is left out, so that the Secret as the operator
// rebuilds it from the token it remembers (Desired) has the digest of the Secret as the
// API server answered the write.
type Digest [sha256.Size]byte

// DigestOf is the Digest of s.
func DigestOf(s *corev1.Secret) Digest {
	h := sha256.New()
	fmt.Fprintf(h, "n%d:%s;%d:%s;t%d:%s;", len(s.Namespace), s.Namespace, len(s.Name), s.Name, len(s.Type), s.Type)
	if s.Immutable != nil {
		fmt.Fprintf(h, "i%t;", *s.Immutable)
	}
	writeData(h, "d", s.Data)
	for _, part := range []struct {
		prefix string
		m      map[string]string
	}{{"l", s.Labels}, {"a", s.Annotations}} {
		for _, k := range slices.Sorted(maps.Keys(part.m)) {
			v := part.m[k]
			fmt.Fprintf(h, "%s%d:%s;%d:%s", part.prefix, len(k), k, len(v), v)
		}
	}
	for _, ref := range s.OwnerReferences {
		fmt.Fprintf(h, "o%d:%s;%d:%s;%d:%s;%d:%s;%v;%v", len(ref.APIVersion), ref.APIVersion, len(ref.Kind), ref.Kind,
			len(ref.Name), ref.Name, len(ref.UID), ref.UID, flag(ref.Controller), flag(ref.BlockOwnerDeletion))
	}
	for _, f := range s.Finalizers {
		fmt.Fprintf(h, "f%d:%s", len(f), f)
	}
	var d Digest
	h.Sum(d[:0])
	return d
}

// flag tells an unset flag from a false one: "-", "false" or "true".
func flag(b *bool) string {
	if b == nil {
		return "-"
	}
	return fmt.Sprint(*b)
}
