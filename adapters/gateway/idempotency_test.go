package gateway

import (
	"context"
	"testing"

	"github.com/securesign/securesign/internal/testpdf"
)

// TestIdempotencyAbandonedServerPDF: a server-key PDF request killed after
// signing, before its answer was stored, leaves a reservation no live
// request holds. The retry with the same Idempotency-Key and body takes it
// over and returns the PDF already signed (never signs again); if the
// process died before the signed file appeared, the retry gets the spent
// OTP's error, not "still running" forever and not a second signature.
func TestIdempotencyAbandonedServerPDF(t *testing.T) {
	eachStore(t, func(t *testing.T, st Store) {
		ctx := context.Background()
		g := newTestGW(t, st)
		ss, _ := sqlBaseOf(st)
		uid := g.newUser(g.key, "cust-crash")
		oid, code := g.otp(g.key, uid, "issue")
		issued := g.must(201, "POST", "/v1/certificates/issue", g.key, map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": "ECDSA-P256"})
		cid := issued["certificateId"].(string)
		// crash turns the finished record of key back into the reservation
		// of a process that died mid-request.
		crash := func(key string) {
			t.Helper()
			if _, err := ss.w.ExecContext(ctx, ss.q("UPDATE idempotency SET done = 0, status = 0, body = NULL, owner = 'dead', created_at = 0 WHERE idem_key = ?"), key); err != nil {
				t.Fatal(err)
			}
		}
		signings := func() int {
			t.Helper()
			es, err := st.AuditLogs(ctx, AuditFilter{TenantID: DevTenantID})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range es {
				if e.Action == "pdf.sign.server" {
					n++
				}
			}
			return n
		}

		// Killed before the signed file was renamed into place.
		soid, scode := g.signOTPDocs(g.key, uid, cid, testpdf.Minimal("lost"))
		req := map[string]any{"pdfBase64": b64(testpdf.Minimal("lost")), "certificateId": cid, "otpId": soid, "otp": scode}
		g.must(200, "POST", "/v1/sign/pdf", g.key, req, "Idempotency-Key", "crash-lost")
		crash("crash-lost")
		removeDocs(t, g.srv, "remote-")
		g.wantErr(401, CodeOTPExpired, "POST", "/v1/sign/pdf", g.key, req, "Idempotency-Key", "crash-lost")
		if n := signings(); n != 1 {
			t.Fatalf("%d server signatures after the retry, want 1", n)
		}

		// Killed after signing: the retry returns the same document.
		soid, scode = g.signOTPDocs(g.key, uid, cid, testpdf.Minimal("kept"))
		req = map[string]any{"pdfBase64": b64(testpdf.Minimal("kept")), "certificateId": cid, "otpId": soid, "otp": scode}
		first := g.must(200, "POST", "/v1/sign/pdf", g.key, req, "Idempotency-Key", "crash-kept")
		crash("crash-kept")
		res, body := g.raw("POST", "/v1/sign/pdf", g.key, req, "Idempotency-Key", "crash-kept")
		if res.StatusCode != 200 || res.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("retry after the crash: %d %v %s", res.StatusCode, res.Header, body)
		}
		again := g.must(200, "POST", "/v1/sign/pdf", g.key, req, "Idempotency-Key", "crash-kept")
		if first["signedPdfBase64"] == nil || first["signedPdfBase64"] != again["signedPdfBase64"] {
			t.Error("the retry did not return the PDF signed before the crash")
		}
		if n := signings(); n != 2 {
			t.Errorf("%d server signatures, want 2 (one per document)", n)
		}
	})
}
