package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// The customer's page follows the document's status the way a page of a
// gateway-backed portal follows a session's watchUrl (docs/protocol.md §3,
// "Capability URLs"): GET answers the status as JSON; with Accept:
// text/event-stream it streams an "event: status" at once and again the
// moment the status changes (the callback lands), until it is final. The
// page's script (static/portal.js) takes the URL from data-watch, so a
// portal on the gateway puts the session's watchUrl there and nothing else
// changes.

// watchHeartbeat keeps idle streams open through proxies.
const watchHeartbeat = 15 * time.Second

// watchMaxStream ends a stream after the longest a link lives; the browser's
// EventSource reconnects if the page is still open.
const watchMaxStream = linkLifetime + time.Minute

// statusBody is what /doc/{id}/status and the watch stream send; built
// under p.mu.
func statusBody(d *document) map[string]string {
	return map[string]string{"status": d.Status, "text": statusText(d), "code": d.Code}
}

// changedLocked wakes every watcher; the caller holds p.mu and has just
// changed a document's status.
func (p *Portal) changedLocked() {
	if p.changed != nil {
		close(p.changed)
	}
	p.changed = make(chan struct{})
}

// waitChangeLocked returns a channel closed at the next status change;
// the caller holds p.mu.
func (p *Portal) waitChangeLocked() <-chan struct{} {
	if p.changed == nil {
		p.changed = make(chan struct{})
	}
	return p.changed
}

// watch serves GET /doc/{id}/watch.
func (p *Portal) watch(w http.ResponseWriter, r *http.Request) {
	d := p.doc(r)
	if d == nil {
		http.NotFound(w, r)
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "text/event-stream") {
		p.status(w, r)
		return
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	heartbeat := time.NewTicker(watchHeartbeat)
	defer heartbeat.Stop()
	end := time.NewTimer(watchMaxStream)
	defer end.Stop()
	last := ""
	for {
		p.mu.Lock()
		body, changed := statusBody(d), p.waitChangeLocked()
		p.mu.Unlock()
		if body["status"] != last {
			data, _ := json.Marshal(body)
			if _, err := fmt.Fprintf(w, "event: status\ndata: %s\n\n", data); err != nil {
				return
			}
			if rc.Flush() != nil {
				return
			}
			last = body["status"]
			if last == StatusSigned {
				return // final: nothing more will change
			}
		}
		select {
		case <-changed:
		case <-heartbeat.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil || rc.Flush() != nil {
				return
			}
		case <-end.C:
			return
		case <-r.Context().Done():
			return
		}
	}
}
