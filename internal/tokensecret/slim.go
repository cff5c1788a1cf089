package tokensecret

import (
	"crypto/sha256"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"

	"github.com/sfconn/sfconn-operator/internal/owned"
)

// What the manager's cache keeps of a token Secret. Its data, the operator's record of
// the token (the annotations the seal covers) and the operator's labels are most of its
// bytes, and the operator keeps the token it wrote in memory anyway: the cache holding them
// again cost over a kilobyte of every connection. The cache keeps the rest (names, owner
// references, the labels and annotations of others), which is what watches, owner lookups
// and the echo filter read; a pass that needs the whole Secret completes it from memory
// when the Secret is at a version the process knows, and reads it from the API server
// otherwise.

// recordAnnotations are the annotations Slim leaves out: the operator's record of the
// token, and the connection's name when its label had to cut it (owned.Meta).
var recordAnnotations = []string{AnnotationIssuedAt, AnnotationExpiresAt, AnnotationInputsHash, AnnotationInputsVersion,
	AnnotationExpirySource, AnnotationWrittenFor, AnnotationTemplateMetadata, AnnotationDataHash, AnnotationSeal,
	owned.LabelConnection}

// ownLabels are the labels Slim leaves out: the operator's (owned.Meta).
var ownLabels = []string{owned.LabelManagedBy, owned.LabelConnection}

// Slimmable says whether the cache keeps s slim: a sealed token Secret that a
// SalesforceConnection controls. Those of cluster connections stay whole: a pass of a
// cluster connection compares the copy in every target namespace with what it should
// hold, and would otherwise read each of them from the API server.
func Slimmable(s *corev1.Secret) bool {
	return owned.ControlledByConnection(s) && s.Annotations[AnnotationSeal] != ""
}

// Slim leaves the data, the operator's record annotations and its labels out of s.
func Slim(s *corev1.Secret) {
	s.Data = nil
	for _, k := range recordAnnotations {
		delete(s.Annotations, k)
	}
	for _, k := range ownLabels {
		delete(s.Labels, k)
	}
}

// MaybeSlim says whether s, read from the cache, may be slim: what Slim leaves of a
// Secret a SalesforceConnection controls. A Secret that is really so (someone emptied it)
// reads the same, and is read whole from the API server like any Secret whose version the
// process does not know.
func MaybeSlim(s *corev1.Secret) bool {
	return owned.ControlledByConnection(s) && len(s.Data) == 0 && s.Annotations[AnnotationSeal] == ""
}

// Digest is a digest of what Slim leaves out of a Secret: two Secrets of one digest
// differ at most in what the cache keeps.
type Digest [sha256.Size]byte

// DigestOf is the Digest of s.
func DigestOf(s *corev1.Secret) Digest {
	h := sha256.New()
	writeData(h, "d", s.Data)
	for _, k := range recordAnnotations {
		if v, ok := s.Annotations[k]; ok {
			fmt.Fprintf(h, "a%d:%s;%d:%s", len(k), k, len(v), v)
		}
	}
	for _, k := range ownLabels {
		if v, ok := s.Labels[k]; ok {
			fmt.Fprintf(h, "l%d:%s;%d:%s", len(k), k, len(v), v)
		}
	}
	var d Digest
	h.Sum(d[:0])
	return d
}

// Complete puts back into s, a slim Secret, what Slim left out, as full holds it.
func Complete(s, full *corev1.Secret) {
	s.Data = maps.Clone(full.Data)
	for _, k := range recordAnnotations {
		if v, ok := full.Annotations[k]; ok {
			if s.Annotations == nil {
				s.Annotations = map[string]string{}
			}
			s.Annotations[k] = v
		}
	}
	for _, k := range ownLabels {
		if v, ok := full.Labels[k]; ok {
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels[k] = v
		}
	}
}
