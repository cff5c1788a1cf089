package emulator

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// limitsOf reads GET /services/data/v66.0/limits with a live token.
func (f *fixture) limitsOf(accessToken string) map[string]map[string]int {
	f.t.Helper()
	r := f.get("/services/data/v66.0/limits", accessToken)
	if r.status != http.StatusOK {
		f.t.Fatalf("limits: %d %s", r.status, r.raw)
	}
	var body map[string]map[string]int
	if err := json.Unmarshal([]byte(r.raw), &body); err != nil {
		f.t.Fatalf("limits body %s: %v", r.raw, err)
	}
	return body
}

// TestLimits: the REST limits resource answers each limit by name with Max and Remaining;
// DailyApiRequests counts the org's authenticated REST calls over a rolling 24 hours.
func TestLimits(t *testing.T) {
	f := newFixture(t)
	at := f.mustToken(passwordForm(appID, appSecret, bob, bobPass))["access_token"].(string)

	first := f.limitsOf(at)
	for _, name := range []string{"DailyApiRequests", "DailyBulkApiBatches", "DataStorageMB", "FileStorageMB"} {
		if _, ok := first[name]; !ok {
			t.Errorf("no %s in %v", name, keysOfLimits(first))
		}
	}
	for name, l := range first {
		if len(l) != 2 || l["Max"] < l["Remaining"] || l["Remaining"] < 0 {
			t.Errorf("%s = %v, want {Max, Remaining} with 0 <= Remaining <= Max", name, l)
		}
	}
	if got := first["DailyApiRequests"]; got["Max"] != DailyAPIRequests || got["Remaining"] != DailyAPIRequests-1 {
		t.Errorf("DailyApiRequests after one call = %v, want Max %d Remaining %d", got, DailyAPIRequests, DailyAPIRequests-1)
	}

	// Every authenticated REST call counts, a 404 too; OAuth endpoints and dead tokens do not.
	f.get("/services/data/", at)
	f.get("/services/data/v66.0/sobjects/Account", at)
	f.get("/services/oauth2/userinfo", at)
	f.get("/services/data/v66.0/limits", "00D000000000000!dead")
	f.clk.Step(time.Hour)
	if got := f.limitsOf(at)["DailyApiRequests"]["Remaining"]; got != DailyAPIRequests-4 {
		t.Errorf("Remaining after four calls = %d, want %d", got, DailyAPIRequests-4)
	}

	// Another org has its own allocation.
	sandboxToken := f.mustToken(passwordForm(appID, appSecret, sandy, "sandy-password"))["access_token"].(string)
	if got := f.limitsOf(sandboxToken)["DailyApiRequests"]["Remaining"]; got != DailyAPIRequests-1 {
		t.Errorf("other org's Remaining = %d, want %d", got, DailyAPIRequests-1)
	}

	// The window rolls: 24 hours after the first three calls only the later two remain.
	// (The session itself has timed out by then: a new login.)
	f.clk.Step(23 * time.Hour)
	at = f.mustToken(passwordForm(appID, appSecret, bob, bobPass))["access_token"].(string)
	if got := f.limitsOf(at)["DailyApiRequests"]["Remaining"]; got != DailyAPIRequests-2 {
		t.Errorf("Remaining a day later = %d, want %d", got, DailyAPIRequests-2)
	}
}

func TestLimitsNeedALiveToken(t *testing.T) {
	f := newFixture(t, WithInactivityExtension(false))
	at := f.mustToken(passwordForm(appID, appSecret, bob, bobPass))["access_token"].(string)
	f.clk.Step(2 * time.Hour)
	for _, token := range []string{"", at} {
		r := f.get("/services/data/v66.0/limits", token)
		if r.status != http.StatusUnauthorized || !strings.Contains(r.raw, `"errorCode":"INVALID_SESSION_ID"`) {
			t.Errorf("limits with a dead token: %d %s", r.status, r.raw)
		}
	}
}

func keysOfLimits(m map[string]map[string]int) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}
