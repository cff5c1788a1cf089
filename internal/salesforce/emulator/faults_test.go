package emulator

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFaultStatusThenRecovery(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.InjectFault(Fault{Endpoint: EndpointToken, Count: 2, Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	form := passwordForm(appID, appSecret, bob, bobPass)
	for i := 0; i < 2; i++ {
		r := f.token(form)
		if r.status != http.StatusServiceUnavailable || !strings.HasPrefix(r.header.Get("Content-Type"), "text/html") || !strings.Contains(r.raw, "Maintenance") {
			t.Fatalf("attempt %d: %d %q %s", i, r.status, r.header.Get("Content-Type"), r.raw)
		}
	}
	f.mustToken(form)
	st := f.emu.Stats()
	if st.TokenRequestsByGrant["password"] != 3 || st.SuccessfulLogins != 1 {
		t.Errorf("stats = %+v", st)
	}
	if st.Requests[0].Fault != "status 503" || st.Requests[0].Status != 503 {
		t.Errorf("log = %+v", st.Requests[0])
	}
}

func TestFaultCustomBodyAndEndpointFilter(t *testing.T) {
	f := newFixture(t)
	at := f.mustToken(passwordForm(appID, appSecret, bob, bobPass))["access_token"].(string)
	if err := f.emu.InjectFault(Fault{Endpoint: EndpointUserInfo, Status: 502, Body: "bad gateway", ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if r := f.get("/services/oauth2/userinfo", at); r.status != 502 || r.raw != "bad gateway" {
		t.Errorf("userinfo: %d %s", r.status, r.raw)
	}
	if r := f.get("/services/data/", at); r.status != http.StatusOK {
		t.Errorf("data was faulted: %d", r.status)
	}
	f.mustToken(passwordForm(appID, appSecret, bob, bobPass))
	if got := f.emu.Faults(); len(got) != 1 || got[0].Count != 0 {
		t.Errorf("unlimited fault: %+v", got)
	}
	f.emu.ClearFaults()
	if r := f.get("/services/oauth2/userinfo", at); r.status != http.StatusOK {
		t.Errorf("after ClearFaults: %d", r.status)
	}
}

func TestFaultClientFilter(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.InjectFault(Fault{Endpoint: EndpointToken, ClientID: "another-app", Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	f.mustToken(passwordForm(appID, appSecret, bob, bobPass))
	if got := f.emu.Stats().Requests[0].Fault; got != "" {
		t.Fatalf("a fault for another consumer key applied: %q", got)
	}
	f.emu.ClearFaults()
	if err := f.emu.InjectFault(Fault{Endpoint: EndpointToken, ClientID: appID, Status: http.StatusServiceUnavailable}); err != nil {
		t.Fatal(err)
	}
	if r := f.token(passwordForm(appID, appSecret, bob, bobPass)); r.status != http.StatusServiceUnavailable {
		t.Fatalf("a fault for this consumer key did not apply: %d", r.status)
	}
}

func TestFaultMalformed(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.InjectFault(Fault{Malformed: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	r := f.token(passwordForm(appID, appSecret, bob, bobPass))
	var v map[string]any
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.raw), &v) == nil {
		t.Errorf("malformed: %d %s", r.status, r.raw)
	}
	f.mustToken(passwordForm(appID, appSecret, bob, bobPass))
}

func TestFaultReset(t *testing.T) {
	f := newFixture(t)
	if err := f.emu.InjectFault(Fault{Endpoint: EndpointToken, Reset: true, Count: 1}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := client.PostForm(f.srv.URL+"/services/oauth2/token", passwordForm(appID, appSecret, bob, bobPass))
	if err == nil {
		res.Body.Close()
		t.Fatalf("reset fault answered %d", res.StatusCode)
	}
	f.mustToken(passwordForm(appID, appSecret, bob, bobPass))
	// The client sees the reset before the handler records it, so the next request may be
	// logged first: wait for the reset's record, with a deadline.
	deadline := time.Now().Add(5 * time.Second)
	for {
		log := f.emu.Stats().Requests
		if i := slices.IndexFunc(log, func(r RequestRecord) bool { return r.Fault == "reset" }); i >= 0 {
			if log[i].Status != 0 {
				t.Errorf("reset logged as %+v", log[i])
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reset in the log: %+v", log)
		}
		runtime.Gosched()
	}
}

// TestFaultDelayHonoursCancellation: a client that gives up ends the delay at once, so the
// server shuts down without waiting for the hour-long delay.
func TestFaultDelayHonoursCancellation(t *testing.T) {
	testKeys(t)
	emu := New(WithState(baseState()))
	started := make(chan struct{})
	emu.delayHook = func() { close(started) }
	srv := httptest.NewServer(emu.Handler())
	if err := emu.InjectFault(Fault{Endpoint: EndpointToken, Delay: Duration(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/services/oauth2/token",
			strings.NewReader(passwordForm(appID, appSecret, bob, bobPass).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("client error = %v, want context.Canceled", err)
	}
	closed := make(chan struct{})
	go func() { srv.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("handler still waiting after the client left")
	}
	if log := emu.Stats().Requests; len(log) != 1 || log[0].Fault != "delay (client gone)" {
		t.Errorf("log = %+v", log)
	}
}

func TestFaultDelayThenNormalAnswer(t *testing.T) {
	f := newFixture(t)
	const d = 30 * time.Millisecond
	if err := f.emu.InjectFault(Fault{Endpoint: EndpointToken, Delay: Duration(d), Count: 1}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	f.mustToken(passwordForm(appID, appSecret, bob, bobPass))
	if el := time.Since(start); el < d {
		t.Errorf("answered after %v, want at least %v", el, d)
	}
	if log := f.emu.Stats().Requests; log[0].Fault != "delay" || log[0].Status != 200 {
		t.Errorf("log = %+v", log[0])
	}
}

func TestInvalidFaults(t *testing.T) {
	e := New()
	for _, bad := range []Fault{{}, {Endpoint: "nope", Status: 500}, {Status: 99}, {Count: -1, Reset: true}} {
		if err := e.InjectFault(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}
