package controller

import (
	"context"
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/pacing"
)

var _ = Describe("The renewal plan", func() {
	It("spreads a user's wave at the budget's pace, all renewed before expiry, one pass each, with no flag", func() {
		ctx := context.Background()
		ns := newNamespace(ctx)
		f := newFixture(nil)
		Expect(k8s.Create(ctx, credentialsSecret(ns, "creds", "client_id", f.clientID, "client_secret", f.clientSecret))).To(Succeed())
		// One user behind five connections. A renewBefore of 2 s keeps the jitter under a
		// second: the five tokens, issued at the same moment of the fake clock, are due
		// together, and the default budget's pace (1.5 s) needs 6 s to start them all, more
		// than renewBefore: renewed at their renewal time, the last would be late.
		names := []string{"a", "b", "c", "d", "e"}
		for _, name := range names {
			c := connection(ns, name, sfv1.AuthSpec{ClientCredentials: &sfv1.ClientCredentialsAuth{CredentialsSecretRef: sfv1.SecretReference{Name: "creds"}}})
			c.Spec.SessionTimeout = &metav1.Duration{Duration: 10 * time.Minute}
			c.Spec.RenewBefore = &metav1.Duration{Duration: 2 * time.Second}
			Expect(k8s.Create(ctx, c)).To(Succeed())
		}
		type token struct {
			key                             types.NamespacedName
			issued, renewAt, expires, start time.Time
		}
		var wave []token
		for _, name := range names {
			Eventually(readyReason(ctx, ns, name)).Should(Equal("True/TokenIssued"))
			st := getConn(ctx, ns, name).Status
			wave = append(wave, token{key: types.NamespacedName{Namespace: ns, Name: name},
				issued: st.IssuedAt.Time, renewAt: st.RenewAt.Time, expires: st.ExpiresAt.Time})
		}
		for i := range wave {
			Eventually(func() time.Time { return suitePlanner.PlannedStart(wave[i].key, wave[i].renewAt) }).ShouldNot(BeZero())
		}
		// The plan holds still once all are booked: read once, the starts are what happens.
		for i := range wave {
			wave[i].start = suitePlanner.PlannedStart(wave[i].key, wave[i].renewAt)
		}
		slices.SortFunc(wave, func(a, b token) int { return a.start.Compare(b.start) })
		pace := time.Hour / pacing.DefaultLoginsPerUserPerHour
		for i := range wave {
			Expect(wave[i].start).NotTo(BeTemporally(">", wave[i].renewAt), "no start after its renewal time")
			if i > 0 {
				Expect(wave[i].start.Sub(wave[i-1].start)).To(BeNumerically(">=", pace), "starts at the user's pace")
			}
		}
		Expect(wave[0].start).To(BeTemporally("<", wave[0].renewAt), "the wave starts early")
		before := map[types.NamespacedName]int{}
		for _, t := range wave {
			before[t.key] = passesOf(t.key)
		}

		By("stepping the fake clock to each planned start: that connection, and only it, renews")
		for i, t := range wave {
			fakeClock.SetTime(t.start)
			// Status keeps whole seconds; the emulator issues at the fake clock's time.
			Eventually(func() time.Time { return getConn(ctx, ns, t.key.Name).Status.IssuedAt.Time }).Should(BeTemporally("~", t.start, time.Second))
			for _, later := range wave[i+1:] {
				Expect(getConn(ctx, ns, later.key.Name).Status.IssuedAt.Time).To(BeTemporally("==", later.issued), "%s renewed before its start", later.key.Name)
			}
		}

		By("stepping past every renewal time and expiry of the wave: no connection runs another pass")
		Expect(wave[len(wave)-1].start).To(BeTemporally("<", wave[len(wave)-1].expires), "all renewed before expiry")
		after := map[types.NamespacedName]int{}
		for _, t := range wave {
			// The pass the plan woke, the echo of its own token Secret write and a retry
			// of the cache that still showed the status before it, while those are not
			// filtered out: none for the renewal time, nor for a start that moved.
			Eventually(func() int { return passesOf(t.key) - before[t.key] }).Should(BeNumerically(">=", 1))
			Expect(passesOf(t.key)-before[t.key]).To(BeNumerically("<=", 3), "passes of %s", t.key.Name)
			after[t.key] = passesOf(t.key)
		}
		fakeClock.SetTime(wave[len(wave)-1].expires.Add(time.Second))
		for _, t := range wave {
			Consistently(func() int { return passesOf(t.key) }, "500ms").Should(BeNumerically("<=", after[t.key]+1), "passes of %s", t.key.Name)
		}
	})
})

// passesOf is the number of passes the reconciler ran for key.
func passesOf(key types.NamespacedName) int {
	return int(readsOf(&reconciles, key.Namespace, key.Name)())
}
