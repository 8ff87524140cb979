package gateway

import (
	"context"
	"encoding/base64"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// The audit log API (docs/protocol.md §3.8): a tenant's entries newest
// first, a page at a time, with an opaque cursor to the next page.

// AuditQuery selects one page of a tenant's audit log, newest first.
type AuditQuery struct {
	TenantID string
	// From and To bound the entries' time, both inclusive; zero is open.
	From, To  time.Time
	RequestID string
	// Action is an action ("certificate.issue") or a family of actions
	// ("certificate" matches "certificate.issue", "certificate.revoke").
	Action string
	// BeforeSeq, when not zero, selects entries older than the entry with
	// this sequence number (the cursor of the previous page).
	BeforeSeq int64
	// Limit is the page size, 1 to MaxAuditPage.
	Limit int
}

// Audit page sizes of GET /v1/audit/logs.
const (
	DefaultAuditPage = 100
	MaxAuditPage     = 1000
)

var (
	auditTypeRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	auditEpoch  = time.Unix(0, 0)
	auditEnd    = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

// parseAuditQuery reads the query of GET /v1/audit/logs.
func parseAuditQuery(tenantID string, get func(string) string) (AuditQuery, error) {
	q := AuditQuery{TenantID: tenantID, RequestID: get("requestId"), Action: get("type"), Limit: DefaultAuditPage}
	if v := get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > MaxAuditPage {
			return q, badRequest("limit must be a whole number from 1 to %d", MaxAuditPage)
		}
		q.Limit = n
	}
	for _, t := range []struct {
		name string
		dst  *time.Time
	}{{"from", &q.From}, {"to", &q.To}} {
		if v := get(t.name); v != "" {
			at, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return q, badRequest("%s must be an RFC 3339 time such as 2026-06-22T10:30:00Z", t.name)
			}
			// The store keeps Unix nanoseconds: years 1970 to 2200 fit.
			if at.Before(auditEpoch) || at.After(auditEnd) {
				return q, badRequest("%s must be between 1970 and 2200", t.name)
			}
			*t.dst = at
		}
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.To.Before(q.From) {
		return q, badRequest("to is before from")
	}
	if len(q.RequestID) > 64 {
		return q, badRequest("requestId is longer than 64 characters")
	}
	if q.Action != "" && !auditTypeRe.MatchString(q.Action) {
		return q, badRequest("type must be an action such as certificate.issue, or a family such as certificate")
	}
	if v := get("next"); v != "" {
		seq, ok := parseAuditCursor(v)
		if !ok {
			return q, badRequest("next is not a cursor this gateway gave")
		}
		q.BeforeSeq = seq
	}
	return q, nil
}

// The cursor names the last entry of a page; it is opaque to clients so
// that its form may change.
const auditCursorPrefix = "v1:"

func auditCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(auditCursorPrefix + strconv.FormatInt(seq, 10)))
}

func parseAuditCursor(s string) (int64, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(s) > 40 {
		return 0, false
	}
	v, ok := strings.CutPrefix(string(b), auditCursorPrefix)
	if !ok {
		return 0, false
	}
	seq, err := strconv.ParseInt(v, 10, 64)
	if err != nil || seq < 1 {
		return 0, false
	}
	return seq, true
}

// auditPageBody is the answer of GET /v1/audit/logs.
type auditPageBody struct {
	Success bool          `json:"success"`
	Entries []*AuditEntry `json:"entries"`
	Next    string        `json:"next,omitempty"`
}

func (s *Server) auditLogs(c echo.Context) error {
	q, err := parseAuditQuery(who(c).TenantID, c.QueryParam)
	if err != nil {
		return err
	}
	entries, more, err := s.store.AuditPage(c.Request().Context(), q)
	if err != nil {
		return err
	}
	out := auditPageBody{Success: true, Entries: entries}
	if more && len(entries) > 0 {
		out.Next = auditCursor(entries[len(entries)-1].Seq)
	}
	return c.JSON(http.StatusOK, out)
}

// AuditPage implements Store. It reads one row more than the page to know
// whether another page follows.
func (s *sqlStore) AuditPage(ctx context.Context, q AuditQuery) ([]*AuditEntry, bool, error) {
	if q.Limit < 1 || q.Limit > MaxAuditPage {
		q.Limit = DefaultAuditPage
	}
	query, args := auditWhere(q.TenantID, q.From, q.To, q.RequestID)
	if q.BeforeSeq > 0 {
		query += " AND seq < ?"
		args = append(args, q.BeforeSeq)
	}
	if q.Action != "" {
		// A family is the range [family".", family"/"): '/' follows '.',
		// so the index on (tenant_id, action, seq) serves both forms.
		query += " AND (action = ? OR (action >= ? AND action < ?))"
		args = append(args, q.Action, q.Action+".", q.Action+"/")
	}
	query += " ORDER BY seq DESC LIMIT " + strconv.Itoa(q.Limit+1)
	rows, err := s.r.QueryContext(ctx, s.q(query), args...)
	out, err := collect(rows, err, scanAudit)
	if err != nil {
		return nil, false, err
	}
	if out == nil {
		out = []*AuditEntry{}
	}
	if len(out) > q.Limit {
		return out[:q.Limit], true, nil
	}
	return out, false, nil
}
