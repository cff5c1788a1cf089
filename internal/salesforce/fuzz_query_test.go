package salesforce

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"path"
	"strings"
	"sync"
	"testing"
)

// fuzzInstance is the instance the fuzzed answers come from; no request may leave it.
const fuzzInstance = "https://acme.my.salesforce.com"

// pagesTransport answers the first request with first and every later one with rest, as a
// server handing out pages in a loop would, and records the requests.
type pagesTransport struct {
	mu          sync.Mutex
	first, rest []byte
	status      int
	requests    []*http.Request
}

func (p *pagesTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests = append(p.requests, r)
	body, status := p.rest, p.status
	if len(p.requests) == 1 {
		body, status = p.first, http.StatusOK
	}
	return &http.Response{
		StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
		Body: io.NopCloser(bytes.NewReader(body)), Request: r,
	}, nil
}

// FuzzQueryApprovalsPages answers QueryApprovals with any first page and any page after
// it, again and again. The client must stay on the instance, on REST API paths, with the
// token only in the header; read at most maxQueryPages pages and maxApprovalRows rows; and
// end with approvals or a classified error that does not quote the token.
func FuzzQueryApprovalsPages(f *testing.F) {
	record := `{"Id":"0CJ000000000001AAA","AppName":"a","CreatedDate":"2026-03-01T09:00:00.000+0000","LastUsedDate":null,"UseCount":1}`
	notDone := func(next string) string {
		return `{"totalSize":9,"done":false,"nextRecordsUrl":"` + next + `","records":[` + record + `]}`
	}
	done := `{"totalSize":1,"done":true,"records":[` + record + `]}`
	for _, seed := range []struct {
		first, rest string
		status      int
	}{
		{approvalsPageSample, done, 200},
		{notDone("/services/data/v66.0/query/01gD0000002HU6KIAW-2000"), done, 200},
		{notDone("/services/data/v66.0/query/01g-2000"), notDone("/services/data/v66.0/query/01g-2000"), 200},
		{notDone("https://evil.example/services/data/v66.0/query/01g-2000"), done, 200},
		{notDone("//evil.example/services/data/v66.0/query/01g-2000"), done, 200},
		{notDone(`\\evil.example/services/data/`), done, 200},
		{notDone("/services/data/../oauth2/userinfo"), done, 200},
		{notDone("/services/data/%2e%2e/%2e%2e/x"), done, 200},
		{notDone("/services/data/v66.0/query?q=x#frag"), done, 200},
		{notDone("/services/data/v66.0/query/01g-2000"), restErr("INVALID_SESSION_ID", "Session expired: "+queryToken), 401},
		{notDone("/services/data/v66.0/query/01g-2000"), `{"error":"invalid_grant","error_description":"` + queryToken + `"}`, 400},
		{`{"done":false,"records":[]}`, done, 200},
		{`{"done":true,"records":null}`, done, 200},
		{`[]`, ``, 500},
	} {
		f.Add([]byte(seed.first), []byte(seed.rest), seed.status)
	}
	f.Fuzz(func(t *testing.T, first, rest []byte, status int) {
		if status < 100 || status > 999 {
			status = http.StatusOK
		}
		tr := &pagesTransport{first: first, rest: rest, status: status}
		c := NewClient(WithHTTPClient(&http.Client{Transport: tr}))
		got, err := c.QueryApprovals(context.Background(), fuzzInstance, queryToken, "a", queryUserID)

		if len(tr.requests) > maxQueryPages {
			t.Fatalf("%d requests, more than %d pages", len(tr.requests), maxQueryPages)
		}
		for i, r := range tr.requests {
			u := r.URL
			if r.Method != http.MethodGet || u.Scheme+"://"+u.Host != fuzzInstance || u.User != nil {
				t.Fatalf("request %d went to %s %s", i, r.Method, u.Redacted())
			}
			if !strings.HasPrefix(u.Path, dataPath) || path.Clean(u.Path) != strings.TrimSuffix(u.Path, "/") {
				t.Fatalf("request %d asked for %q, outside the REST API", i, u.Path)
			}
			if r.Header.Get("Authorization") != "Bearer "+queryToken || strings.Contains(u.String(), queryToken) {
				t.Fatalf("request %d carries the token elsewhere than its header: %s", i, u.Redacted())
			}
		}
		if err != nil {
			e, ok := err.(*Error) //nolint:errorlint // the error must be an *Error itself, not wrap one
			if !ok || got != nil {
				t.Fatalf("error %T %v with %d approvals", err, err, len(got))
			}
			if e.Class < Retryable || e.Class >= Pending || strings.Contains(e.Error(), queryToken) {
				t.Fatalf("error %q (%v)", e.Error(), e.Class)
			}
			return
		}
		if len(got) > maxApprovalRows {
			t.Fatalf("%d approvals, more than %d", len(got), maxApprovalRows)
		}
		for _, a := range got {
			if strings.TrimSpace(a.ID) == "" || a.Created.IsZero() || a.UseCount < 0 {
				t.Fatalf("approval %+v", a)
			}
		}
	})
}

// FuzzNextPageURL checks nextPageURL alone, faster than through a client: what it returns
// is a REST API URL on the instance, with the path of nextRecordsUrl.
func FuzzNextPageURL(f *testing.F) {
	for _, s := range []string{
		"/services/data/v66.0/query/01gD0000002HU6KIAW-2000", "/services/data/v66.0/query?q=x",
		"https://evil.example/services/data/", "//evil.example/services/data/", `/\evil.example/services/data/`,
		"/services/data/../oauth2/userinfo", "/services/data/%2e%2e/x", "/services/data/a%2F..%2F..%2Fx",
		"/services/data/#x", "/services/data/?#", "services/data/x", "/services/data/x@evil.example", "",
	} {
		f.Add(s)
	}
	base, _ := url.Parse(fuzzInstance)
	f.Fuzz(func(t *testing.T, next string) {
		target, err := nextPageURL(fuzzInstance, next)
		if err != nil {
			if target != "" {
				t.Fatal("a target with an error")
			}
			return
		}
		u, perr := url.Parse(target)
		if perr != nil || u.Scheme != base.Scheme || u.Host != base.Host || u.User != nil || u.Fragment != "" {
			t.Fatalf("next %q gave %q, off the instance", next, target)
		}
		if !strings.HasPrefix(u.Path, dataPath) || path.Clean(u.Path) != strings.TrimSuffix(u.Path, "/") {
			t.Fatalf("next %q gave path %q, outside the REST API", next, u.Path)
		}
		// An HTTP request built from it goes to the same place.
		r, rerr := http.NewRequest(http.MethodGet, target, http.NoBody)
		if rerr != nil || r.URL.Host != base.Host || r.Host != base.Host {
			t.Fatalf("next %q: request for %q goes to %v (%v)", next, target, r, rerr)
		}
	})
}
