//go:build linux && cgo

package hardening

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// crashSession is what the client knows of one deep-link session.
type crashSession struct {
	enc      string // the ss_result the app sends (and re-sends)
	sig      string // its signature, base64
	accepted bool   // some answer said 2xx "accepted" (not only "duplicate")
	signed   bool   // some answer said 2xx with status signed
	pdf      bool   // a token PDF session: the gateway finishes the PDF after the result
}

// crashPDF is one remote signing request with a server-held key.
type crashPDF struct {
	docHash string // hex SHA-256 of the PDF sent
	idemKey string
	body    map[string]any
	seen    bool   // a 200 with the signed PDF reached the client
	signed  []byte // that PDF
	retry   string // what the retry after the crash answered
}

type crashState struct {
	mu       sync.Mutex
	sessions map[string]*crashSession
	pdfs     []*crashPDF
}

// TestCrashConsistency SIGKILLs the gateway at random moments while
// sessions are created, results delivered and PDFs signed with a
// server-held key, restarts it on the same data directory, re-sends
// whatever had no answer (as apps and portals retry), and then checks:
// every result the client saw accepted is stored exactly once and the
// session reads signed with that signature; no session has two accepted
// completions in the audit log; no PDF was signed twice (audit, and one
// signature per returned PDF); the audit chain verifies with the admin
// command.
func TestCrashConsistency(t *testing.T) {
	rounds := 10
	if v := os.Getenv("SECURESIGN_CRASH_ROUNDS"); v != "" {
		var err error
		if rounds, err = strconv.Atoi(v); err != nil || rounds < 1 || rounds > 1000 {
			t.Fatalf("SECURESIGN_CRASH_ROUNDS=%q: want 1..1000", v)
		}
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d rounds", seed, rounds)
	rng := mrand.New(mrand.NewPCG(seed, 1))
	ctx := context.Background()
	data := t.TempDir()
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "warn")
	key, addr := g.APIKey, g.Addr
	c := newClient(t, g, key, 8)
	ob := lg.NewOutbox(data)
	id, err := lg.IssueCSR(ctx, c, ob, "crash-app", testpki.Key(t, testpki.RSA2048, 41))
	if err != nil {
		t.Fatal(err)
	}
	app, err := lg.NewApp(ctx, id, 32)
	if err != nil {
		t.Fatal(err)
	}
	pdfApp, err := lg.NewApp(ctx, id, 0)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := lg.IssueServerKey(ctx, c, ob, "crash-remote", "ECDSA-P256")
	if err != nil {
		t.Fatal(err)
	}
	st := &crashState{sessions: map[string]*crashSession{}}
	n := 0
	for round := 0; round < rounds; round++ {
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					crashSessionOnce(ctx, c, app, st, fmt.Sprintf("r%dw%di%d", round, w, i))
				}
			}(w)
		}
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				crashPDFOnce(ctx, c, ob, cred, st, fmt.Sprintf("round %d pdf %d", round, i))
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				crashPDFSessionOnce(ctx, c, pdfApp, id.SerialHex, st, fmt.Sprintf("round %d session pdf %d", round, i))
			}
		}()
		time.Sleep(time.Duration(150+rng.IntN(600)) * time.Millisecond)
		g.Kill()
		close(stop)
		wg.Wait()
		g = startGateway(t, data, addr, nil, "--log-level", "warn")
		if g.APIKey != "" {
			t.Errorf("round %d: the restarted gateway printed a new API key", round)
		}
		c.CloseIdle()
		n += crashRetry(ctx, t, c, st)
	}
	t.Logf("%d sessions (hash and token PDF) and %d remote PDF requests over %d crashes; %d results re-sent after a crash", len(st.sessions), len(st.pdfs), rounds, n)

	// Every session the client knows about.
	pdfSessions := 0
	for rid, s := range st.sessions {
		res, err := c.Must(ctx, 200, "GET", "/v1/sessions/"+rid, nil)
		if err != nil {
			t.Errorf("session %s (created, answer seen): %v", rid, err)
			continue
		}
		m := res.JSON()
		if s.pdf {
			pdfSessions++
			checkSignedPDF(ctx, t, c, "PDF session "+rid, res.Str("signedPdfBase64"))
		}
		sigs, _ := m["signaturesBase64"].([]any)
		if m["status"] != "signed" || len(sigs) != 1 || sigs[0] != s.sig {
			t.Errorf("session %s: status %v, signatures %v; want signed with the delivered signature", rid, m["status"], sigs)
		}
		es := auditFor(ctx, t, c, rid)
		acc := countActions(es, "session.result", "accepted")
		if creates := countActions(es, "session.create", ""); creates != 1 {
			t.Errorf("session %s: %d session.create audit entries, want 1", rid, creates)
		}
		switch {
		case acc > 1:
			t.Errorf("session %s completed %d times (audit session.result accepted)", rid, acc)
		case acc == 0 && s.accepted:
			t.Errorf("session %s: the client saw it accepted, but the audit log has no accepted result", rid)
		case acc == 0:
			// The completion and its audit entry commit together: a
			// crash cannot leave one without the other.
			t.Errorf("session %s is signed but has no 'accepted' audit entry (completion and audit not atomic)", rid)
		}
	}
	t.Logf("%d token PDF sessions finished: each PDF has one signature and validates", pdfSessions)

	// No PDF signed twice.
	all, _ := auditAll(ctx, t, c)
	perDoc := map[string]int{}
	for _, e := range all {
		if e.Action == "pdf.sign.server" {
			perDoc[e.DocHash]++
		}
	}
	retries := map[string]int{}
	for _, p := range st.pdfs {
		retries[p.retry]++
		if k := perDoc[p.docHash]; k > 1 {
			t.Errorf("PDF %s signed %d times", p.docHash[:12], k)
		} else if p.seen && k != 1 {
			t.Errorf("PDF %s: the client got it signed, but the audit log has %d signing entries", p.docHash[:12], k)
		}
		if p.seen {
			checkSignedPDF(ctx, t, c, "remote PDF "+p.docHash[:12], base64.StdEncoding.EncodeToString(p.signed))
		}
	}
	t.Logf("remote PDF requests whose answer a crash swallowed, answer to the retry with the same Idempotency-Key: %v", retries)
	// A key whose request died with the process must not stay reserved:
	// after the restart the retry takes the reservation over and gets the
	// PDF (signed now, or the one signed before the crash) or the spent
	// OTP's error, never "still running". Ask once more now and count
	// documents signed (audit) but never delivered: the process died
	// between the audit entry and the signed file.
	stuck, lost := 0, 0
	for _, p := range st.pdfs {
		if p.seen {
			continue
		}
		if len(p.retry) >= 3 && p.retry[:3] == "409" {
			stuck++
			t.Errorf("PDF %s: the retry after the restart answered %q", p.docHash[:12], p.retry)
		}
		if res, err := c.Do(ctx, "POST", "/v1/sign/pdf", p.body, true, "Idempotency-Key", p.idemKey); err == nil && res.Status == 409 {
			stuck++
			t.Errorf("PDF %s: Idempotency-Key %s still answers 409 long after the restart", p.docHash[:12], p.idemKey)
		}
		if perDoc[p.docHash] == 1 {
			lost++
		}
	}
	t.Logf("%d Idempotency-Keys stuck at 409 after restart (want 0); %d PDFs signed (audit) but never delivered (killed between audit and file)", stuck, lost)
	if err := g.Stop(); err != nil {
		t.Errorf("SIGTERM: %v", err)
	}
	entries := adminAuditVerify(t, data)
	t.Logf("audit chain verified by 'securesign gateway admin audit-verify': %d entries", entries)
}

// crashSessionOnce creates a session and delivers its result; whatever
// answers arrive are recorded.
func crashSessionOnce(ctx context.Context, c *lg.Client, app *lg.App, st *crashState, tag string) {
	d := sha256.Sum256([]byte(tag))
	res, err := lg.CreateHashSession(ctx, c, app.Digest(int(d[0])))
	if err != nil {
		return
	}
	enc, rid, err := app.Answer(ctx, res.Str("deepLink"))
	if err != nil {
		return
	}
	r, _ := decodeSig(enc)
	s := &crashSession{enc: enc, sig: r}
	st.mu.Lock()
	st.sessions[rid] = s
	st.mu.Unlock()
	ans, err := c.PostResult(ctx, enc)
	if err != nil || ans.Status != 200 {
		return
	}
	st.mu.Lock()
	s.signed = ans.Str("status") == "signed"
	s.accepted = ans.Str("outcome") == "accepted"
	st.mu.Unlock()
}

func decodeSig(enc string) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(enc)
	if err != nil {
		return "", err
	}
	var m struct {
		Sig string `json:"signatureBase64"`
	}
	if err := jsonUnmarshal(raw, &m); err != nil {
		return "", err
	}
	return m.Sig, nil
}

// crashPDFOnce signs a unique PDF with the server-held key after an OTP,
// with an Idempotency-Key so that it can be retried safely.
func crashPDFOnce(ctx context.Context, c *lg.Client, ob *lg.Outbox, cred *lg.Credential, st *crashState, text string) {
	doc := testpdf.Minimal(text)
	oid, code, err := lg.SignOTP(ctx, c, ob, cred.UserID, cred.CertificateID, [][]byte{doc}, nil)
	if err != nil {
		return
	}
	sum := sha256.Sum256(doc)
	p := &crashPDF{docHash: hex.EncodeToString(sum[:]), idemKey: "crash-" + hex.EncodeToString(sum[:8]),
		body: map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(doc), "certificateId": cred.CertificateID, "otpId": oid, "otp": code}}
	st.mu.Lock()
	st.pdfs = append(st.pdfs, p)
	st.mu.Unlock()
	res, err := c.Do(ctx, "POST", "/v1/sign/pdf", p.body, true, "Idempotency-Key", p.idemKey)
	if err != nil || res.Status != 200 {
		return
	}
	signed, _ := base64.StdEncoding.DecodeString(res.Str("signedPdfBase64"))
	st.mu.Lock()
	p.seen, p.signed = true, signed
	st.mu.Unlock()
}

// crashRetry re-sends, after a restart, every result whose delivery had no
// answer, as an app does, and every PDF request without an answer with the
// same Idempotency-Key, as a portal does. It returns how many results it
// re-sent.
func crashRetry(ctx context.Context, t *testing.T, c *lg.Client, st *crashState) int {
	t.Helper()
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for rid, s := range st.sessions {
		if s.signed {
			continue
		}
		n++
		ans, err := c.PostResult(ctx, s.enc)
		if err != nil || ans.Status != 200 || ans.Str("status") != "signed" {
			t.Errorf("re-sending the result of %s after a restart: %v %+v", rid, err, ans)
			continue
		}
		s.signed = true
		if ans.Str("outcome") == "accepted" {
			s.accepted = true
		}
	}
	for _, p := range st.pdfs {
		if p.seen || p.retry != "" {
			continue
		}
		res, err := c.Do(ctx, "POST", "/v1/sign/pdf", p.body, true, "Idempotency-Key", p.idemKey)
		switch {
		case err != nil:
			t.Errorf("retrying PDF %s: %v", p.docHash[:12], err)
			continue
		case res.Status >= 500:
			t.Errorf("retrying PDF %s: %d %s", p.docHash[:12], res.Status, res.Body)
		case res.Status == 200:
			p.seen = true
			p.signed, _ = base64.StdEncoding.DecodeString(res.Str("signedPdfBase64"))
			if res.Header.Get("Idempotent-Replayed") == "true" {
				p.retry = "200 replayed"
			} else {
				p.retry = "200 signed now"
			}
			continue
		}
		p.retry = fmt.Sprintf("%d %s", res.Status, res.Str("error"))
	}
	return n
}

// crashPDFSessionOnce opens a token PDF session for the app's certificate,
// signs the prepared digest as the app and delivers the result; the
// gateway then finishes the PDF (after a crash: on the redelivery or the
// next status query).
func crashPDFSessionOnce(ctx context.Context, c *lg.Client, app *lg.App, serial string, st *crashState, text string) {
	res, err := c.Do(ctx, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(testpdf.Minimal(text)),
		"certSerial": serial}, true)
	if err != nil || res.Status != 201 {
		return
	}
	enc, rid, err := app.Answer(ctx, res.Str("deepLink"))
	if err != nil {
		return
	}
	sig, _ := decodeSig(enc)
	s := &crashSession{enc: enc, sig: sig, pdf: true}
	st.mu.Lock()
	st.sessions[rid] = s
	st.mu.Unlock()
	ans, err := c.PostResult(ctx, enc)
	if err != nil || ans.Status != 200 {
		return
	}
	st.mu.Lock()
	s.signed = ans.Str("status") == "signed"
	s.accepted = ans.Str("outcome") == "accepted"
	st.mu.Unlock()
}

// checkSignedPDF checks that a signed PDF carries exactly one signature and
// that the gateway's own validation passes it.
func checkSignedPDF(ctx context.Context, t *testing.T, c *lg.Client, what, b64 string) {
	t.Helper()
	doc, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(doc) == 0 {
		t.Errorf("%s: no signed PDF (%v)", what, err)
		return
	}
	if k := bytes.Count(doc, []byte("/ByteRange")); k != 1 {
		t.Errorf("%s: %d signatures in the signed PDF, want 1", what, k)
	}
	res, err := c.Must(ctx, 200, "POST", "/v1/verify/pdf", map[string]any{"pdfBase64": b64})
	if err != nil {
		t.Errorf("%s: verify: %v", what, err)
		return
	}
	var rep struct {
		Valid      bool `json:"valid"`
		Signatures []struct {
			Indication string `json:"indication"`
			Integrity  string `json:"integrity"`
		} `json:"signatures"`
	}
	if err := jsonUnmarshal(res.Body, &rep); err != nil || len(rep.Signatures) != 1 || rep.Signatures[0].Integrity != "ok" || !rep.Valid || rep.Signatures[0].Indication != "TOTAL_PASSED" {
		t.Errorf("%s: validation report %v %.400s", what, err, res.Body)
	}
}
