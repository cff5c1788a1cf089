package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// auditEntry is the part of an audit event the benchmark reads (level Metadata: no
// request or response bodies, so no secret ever reaches the log).
type auditEntry struct {
	Verb string `json:"verb"`
	User struct {
		Username string `json:"username"`
	} `json:"user"`
	ObjectRef      *auditObjectRef `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	RequestReceived time.Time `json:"requestReceivedTimestamp"`
}

// auditObjectRef is what a request was about.
type auditObjectRef struct {
	Resource    string `json:"resource"`
	Namespace   string `json:"namespace"`
	Name        string `json:"name"`
	APIGroup    string `json:"apiGroup"`
	Subresource string `json:"subresource"`
}

// writeVerbs are the verbs counted as writes.
var writeVerbs = map[string]bool{"create": true, "update": true, "patch": true, "delete": true, "deletecollection": true}

// readCounts are the manager's reads from the API server, not from its cache: gets and
// lists.
type readCounts struct {
	// SecretGets are gets of Secrets: credentials, and token Secrets read uncached.
	SecretGets int `json:"secretGets"`
	// Lists are lists of any resource (the caches' initial lists).
	Lists int `json:"lists"`
	Other int `json:"other"`
}

func (r *readCounts) add(e *auditEntry) {
	switch {
	case e.Verb == "list":
		r.Lists++
	case e.ObjectRef != nil && e.ObjectRef.Resource == "secrets":
		r.SecretGets++
	default:
		r.Other++
	}
}

// Total is every read.
func (r readCounts) Total() int { return r.SecretGets + r.Lists + r.Other }

// writeCounts are API writes split by what they wrote.
type writeCounts struct {
	Secrets int `json:"secrets"`
	// Status counts salesforceconnections/status writes.
	Status int `json:"status"`
	// Events counts events of both APIs (events.k8s.io and core/v1).
	Events int `json:"events"`
	// Leases counts leader election renewals, kept apart: a leader renews its Lease every
	// two seconds whatever the connections do.
	Leases int `json:"leases"`
	Other  int `json:"other"`
	// Failed counts writes the API server refused (409 conflicts, 422, 429 ...), already
	// included in the counts above.
	Failed int `json:"failed"`
}

// Total is every write but the Lease renewals and events.
func (w writeCounts) Total() int { return w.Secrets + w.Status + w.Other }

func (w *writeCounts) add(e *auditEntry) {
	switch {
	case e.ObjectRef == nil:
		w.Other++
	case e.ObjectRef.Resource == "secrets":
		w.Secrets++
	case e.ObjectRef.Resource == "salesforceconnections" && e.ObjectRef.Subresource == "status":
		w.Status++
	case e.ObjectRef.Resource == "events":
		w.Events++
	case e.ObjectRef.Resource == "leases":
		w.Leases++
	default:
		w.Other++
	}
	if e.ResponseStatus != nil && e.ResponseStatus.Code >= 400 {
		w.Failed++
	}
}

// auditLog reads the API server's audit log as it grows.
type auditLog struct {
	path string

	mu      sync.Mutex
	offset  int64
	partial []byte
	entries []auditEntry
	markers int
}

func newAuditLog(path string) *auditLog { return &auditLog{path: path} }

// sync reads the lines appended since the last call.
func (a *auditLog) sync() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	f, err := os.Open(a.path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	if _, err := f.Seek(a.offset, io.SeekStart); err != nil {
		return err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return err
	}
	a.offset += int64(len(data))
	data = append(a.partial, data...)
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		a.partial = data
		return nil
	}
	a.partial = append([]byte(nil), data[end+1:]...)
	for _, line := range bytes.Split(data[:end], []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var e auditEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("audit log: %w", err)
		}
		a.entries = append(a.entries, e)
	}
	return nil
}

// flush makes sure every request received before now is in the entries read: it sends a
// request of its own (a delete of a ConfigMap that does not exist, audited with its name)
// and waits for it to show up in the log.
func (a *auditLog) flush(ctx context.Context, c client.Client) error {
	a.mu.Lock()
	a.markers++
	name := fmt.Sprintf("bench-audit-marker-%d", a.markers)
	a.mu.Unlock()
	marker := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: leaseNamespace}}
	_ = c.Delete(ctx, marker) // NotFound, and audited
	return poll(ctx, "audit log flush", 50*time.Millisecond, time.Minute, func(context.Context) (bool, string, error) {
		if err := a.sync(); err != nil {
			return false, "", err
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		for i := len(a.entries) - 1; i >= 0 && i >= len(a.entries)-1000; i-- {
			e := &a.entries[i]
			if e.Verb == "delete" && e.ObjectRef != nil && e.ObjectRef.Resource == "configmaps" && e.ObjectRef.Name == name {
				return true, "", nil
			}
		}
		return false, "marker not in the audit log yet", nil
	})
}

// requestsBy counts the writes and reads of user received in [from, to).
func (a *auditLog) requestsBy(user string, from, to time.Time) (writeCounts, readCounts) {
	a.mu.Lock()
	defer a.mu.Unlock()
	var w writeCounts
	var r readCounts
	for i := range a.entries {
		e := &a.entries[i]
		if e.User.Username != user || e.RequestReceived.Before(from) || !e.RequestReceived.Before(to) {
			continue
		}
		if writeVerbs[e.Verb] {
			w.add(e)
		} else {
			r.add(e)
		}
	}
	return w, r
}

// countWrites flushes the log and counts the manager's writes in [from, now).
func (a *auditLog) countWrites(ctx context.Context, c client.Client, from time.Time) (writeCounts, time.Time, error) {
	w, _, to, err := a.countRequests(ctx, c, from)
	return w, to, err
}

// countRequests flushes the log and counts the manager's writes and reads in [from, now).
func (a *auditLog) countRequests(ctx context.Context, c client.Client, from time.Time) (writeCounts, readCounts, time.Time, error) {
	to := time.Now()
	if err := a.flush(ctx, c); err != nil {
		return writeCounts{}, readCounts{}, to, err
	}
	w, r := a.requestsBy(managerUser, from, to)
	return w, r, to, nil
}
