package controller

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	sfv1 "github.com/sfconn/sfconn-operator/api/v1alpha1"
	"github.com/sfconn/sfconn-operator/internal/tokensecret"
)

func TestPlanRestart(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	oldIssue := now.Add(-80 * time.Minute)
	newIssue := now.Add(-10 * time.Second)
	targets := []sfv1.RolloutRestartTarget{{Kind: "Deployment", Name: "web"}}
	tok := func(issued time.Time) *tokensecret.Token {
		return &tokensecret.Token{IssuedAt: issued, ExpiresAt: issued.Add(2 * time.Hour)}
	}
	record := func(issued time.Time, restarted *time.Time) *sfv1.RolloutRestartStatus {
		rr := &sfv1.RolloutRestartStatus{TokenIssuedAt: metav1.NewTime(issued)}
		if restarted != nil {
			rr.LastRestartTime = timePtr(*restarted)
		}
		return rr
	}
	longAgo := now.Add(-time.Hour)
	recently := now.Add(-2 * time.Minute)

	cases := []struct {
		name        string
		targets     []sfv1.RolloutRestartTarget
		minInterval *metav1.Duration
		prev        *sfv1.RolloutRestartStatus
		tok         *tokensecret.Token
		restart     bool
		wait        time.Time
		recordIssue time.Time
		noRecord    bool
	}{
		{name: "no targets clears the record", prev: record(oldIssue, &longAgo), tok: tok(newIssue), noRecord: true},
		{name: "no token keeps the record", targets: targets, prev: record(oldIssue, nil), recordIssue: oldIssue},
		{name: "targets named for the first time run with the current token", targets: targets, tok: tok(newIssue), recordIssue: newIssue},
		{name: "same token: nothing to do", targets: targets, prev: record(newIssue, &longAgo), tok: tok(newIssue), recordIssue: newIssue},
		{name: "new token: restart", targets: targets, prev: record(oldIssue, nil), tok: tok(newIssue), restart: true, recordIssue: newIssue},
		{name: "new token after the interval: restart", targets: targets, prev: record(oldIssue, &longAgo), tok: tok(newIssue), restart: true, recordIssue: newIssue},
		{name: "new token within the default interval waits", targets: targets, prev: record(oldIssue, &recently), tok: tok(newIssue),
			wait: recently.Add(defaultRestartMinInterval), recordIssue: oldIssue},
		{name: "a shorter interval lets it through", targets: targets, minInterval: &metav1.Duration{Duration: time.Minute},
			prev: record(oldIssue, &recently), tok: tok(newIssue), restart: true, recordIssue: newIssue},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := &sfv1.SalesforceConnectionSpec{RolloutRestartTargets: tc.targets, RolloutRestartMinInterval: tc.minInterval}
			p := planRestart(spec, tc.prev, tc.tok, now)
			if p.restart != tc.restart {
				t.Errorf("restart = %v, want %v", p.restart, tc.restart)
			}
			if !p.wait.Equal(tc.wait) {
				t.Errorf("wait = %v, want %v", p.wait, tc.wait)
			}
			if tc.noRecord {
				if p.record != nil {
					t.Errorf("record = %+v, want none", p.record)
				}
				return
			}
			if p.record == nil || !p.record.TokenIssuedAt.Time.Equal(tc.recordIssue) {
				t.Fatalf("record = %+v, want token issued at %v", p.record, tc.recordIssue)
			}
			if tc.restart && (p.record.LastRestartTime == nil || !p.record.LastRestartTime.Time.Equal(now)) {
				t.Errorf("a restart must record its time, got %+v", p.record.LastRestartTime)
			}
		})
	}
}
