//go:build linux && cgo

package hardening

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testimg"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// TestAbuseImageBombs: the appearance-image bombs of issue 14 (a 10,000²
// PNG, 0.9 GB and 7.7 s before; a 65,535² one, which ended the process)
// are refused with 422 SS_IMAGE_TOO_LARGE from their header, on the token
// path (no OTP needed) and the server-key path, and the gateway's RSS
// barely moves.
func TestAbuseImageBombs(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "warn")
	c := newClient(t, g, g.APIKey, 2)
	ob := lg.NewOutbox(data)
	id, err := lg.IssueCSR(ctx, c, ob, "bomb-token", testpki.Key(t, testpki.RSA2048, 47))
	if err != nil {
		t.Fatal(err)
	}
	cred, err := lg.IssueServerKey(ctx, c, ob, "bomb-remote", "ECDSA-P256")
	if err != nil {
		t.Fatal(err)
	}
	pdfBytes := testpdf.Minimal("bomb")
	pdf := base64.StdEncoding.EncodeToString(pdfBytes)
	small := base64.StdEncoding.EncodeToString(testimg.PNGBomb(200, 100, 100))
	if _, err := c.Must(ctx, 201, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": pdf, "certSerial": id.SerialHex,
		"appearance": map[string]any{"imageBase64": small}}); err != nil {
		t.Fatal(err)
	}
	type figure struct {
		Name        string  `json:"name"`
		Status      int     `json:"status"`
		Code        string  `json:"code"`
		RequestKiB  int     `json:"requestKiB"`
		IncreaseMiB float64 `json:"rssIncreaseMiB"`
		Seconds     float64 `json:"seconds"`
	}
	var figs []figure
	for _, bomb := range []struct {
		name   string
		png    []byte
		server bool
	}{
		{"10000x10000 token path", testimg.PNGBomb(10000, 10000, 10000), false},
		{"65535x65535 token path", testimg.PNGBomb(65535, 65535, 100), false},
		{"65535x65535 server key", testimg.PNGBomb(65535, 65535, 100), true},
	} {
		req := map[string]any{"pdfBase64": pdf, "certSerial": id.SerialHex, "appearance": map[string]any{"imageBase64": base64.StdEncoding.EncodeToString(bomb.png)}}
		if bomb.server {
			oid, code, err := lg.SignOTP(ctx, c, ob, cred.UserID, cred.CertificateID, [][]byte{pdfBytes}, nil)
			if err != nil {
				t.Fatal(err)
			}
			delete(req, "certSerial")
			req["certificateId"], req["otpId"], req["otp"] = cred.CertificateID, oid, code
		}
		body, _ := json.Marshal(req)
		var res *lg.Response
		start := time.Now()
		before, peak := peakRSS(t, g.PID(), func() {
			if res, err = c.Do(ctx, "POST", "/v1/sign/pdf", body, true); err != nil {
				t.Fatal(err)
			}
		})
		f := figure{Name: bomb.name, Status: res.Status, Code: res.Str("error"), RequestKiB: len(body) >> 10,
			IncreaseMiB: mib(peak - before), Seconds: time.Since(start).Seconds()}
		figs = append(figs, f)
		t.Logf("%-24s %4d KiB request: %d %s, RSS +%.1f MiB, %.3f s", f.Name, f.RequestKiB, f.Status, f.Code, f.IncreaseMiB, f.Seconds)
		if res.Status != 422 || f.Code != "SS_IMAGE_TOO_LARGE" {
			t.Errorf("%s: %d %.300s", bomb.name, res.Status, res.Body)
		}
		if peak-before > 32<<20 {
			t.Errorf("%s: RSS grew %.1f MiB", bomb.name, mib(peak-before))
		}
	}
	writeReport(t, "abuse-images.json", figs)
}

// TestAbuseValidationBombs: eight validation bombs at once against a
// gateway told it may use 512 MiB (room for 4 PDF jobs, no queue), three
// rounds: about half are refused with 503 and Retry-After, the others end
// on the per-request budget (422), and the RSS stays under the limit.
func TestAbuseValidationBombs(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	const limitMiB = 512
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "warn", "--memory-limit", fmt.Sprint(limitMiB), "--pdf-queue-wait", "-1s")
	c := newClient(t, g, g.APIKey, 16)
	bomb := validationBomb(7, 6)
	body, _ := json.Marshal(map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(bomb)})
	statuses := map[int]int{}
	var mu sync.Mutex
	_, peak := peakRSS(t, g.PID(), func() {
		for round := 0; round < 3; round++ {
			var wg sync.WaitGroup
			start := make(chan struct{})
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res, err := c.Do(ctx, "POST", "/v1/verify/pdf", body, true)
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					statuses[res.Status]++
					mu.Unlock()
					if res.Status == 503 && res.Header.Get("Retry-After") == "" {
						t.Error("503 without Retry-After")
					}
					if res.Status != 503 && res.Status != 422 {
						t.Errorf("bomb: %d %.200s", res.Status, res.Body)
					}
				}()
			}
			close(start)
			wg.Wait()
		}
	})
	t.Logf("bomb %d KiB; 3 rounds of 8 at once: statuses %v; peak RSS %.1f MiB (limit %d MiB)", len(bomb)>>10, statuses, mib(peak), limitMiB)
	if statuses[503] == 0 {
		t.Error("no request was refused with 503")
	}
	if peak > limitMiB<<20 {
		t.Errorf("peak RSS %.1f MiB above the %d MiB limit", mib(peak), limitMiB)
	}
	if _, err := c.Must(ctx, 200, "POST", "/v1/verify/pdf", map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(testpdf.Minimal("after"))}); err != nil {
		t.Error(err)
	}
	writeReport(t, "abuse-validation.json", map[string]any{"bombBytes": len(bomb), "statuses": statuses, "peakRSSMiB": mib(peak), "limitMiB": limitMiB})
}

// TestAbuseSlowBodies: 200 connections trickling a body to the public
// callback, one byte every 500 ms, are all closed within the public read
// deadline (3 s here) plus a second; with the per-address cap at 150,
// the other 50 are closed at once.
func TestAbuseSlowBodies(t *testing.T) {
	data := t.TempDir()
	const deadline = 3 * time.Second
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "error", "--public-read-timeout", deadline.String(), "--max-conns-per-addr", "150")
	host := strings.TrimPrefix(g.URL, "http://")
	type result struct {
		after time.Duration
		got   string
	}
	results := make([]result, 200)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range results {
		conn, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(2)
		go func() { // trickle until the server gives up
			defer wg.Done()
			conn.Write([]byte("POST /v1/callback HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000\r\n\r\nss_result=")) //nolint:errcheck
			for time.Since(start) < 20*time.Second {
				time.Sleep(500 * time.Millisecond)
				if _, err := conn.Write([]byte("A")); err != nil {
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			defer conn.Close()
			conn.SetReadDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
			br := bufio.NewReader(conn)
			line, _ := br.ReadString('\n')
			for {
				if _, err := br.ReadByte(); err != nil {
					break
				}
			}
			results[i] = result{time.Since(start), strings.TrimSpace(line)}
		}()
	}
	wg.Wait()
	var refused, cut int
	var slowest time.Duration
	for _, r := range results {
		switch {
		case r.got == "":
			refused++
		case strings.HasPrefix(r.got, "HTTP/1.1 4"):
			cut++
		default:
			t.Errorf("answer %q", r.got)
		}
		slowest = max(slowest, r.after)
	}
	t.Logf("200 slow bodies: %d closed at once (per-address cap 150), %d answered 4xx and closed; last closed after %.2f s (deadline %s)", refused, cut, slowest.Seconds(), deadline)
	if slowest > deadline+time.Second {
		t.Errorf("a connection lived %.2f s, deadline %s", slowest.Seconds(), deadline)
	}
	if refused != 50 {
		t.Errorf("%d connections refused, want 50", refused)
	}
	writeReport(t, "abuse-slow-bodies.json", map[string]any{"connections": 200, "refusedAtOnce": refused, "cutAtDeadline": cut, "lastClosedSeconds": slowest.Seconds(), "deadlineSeconds": deadline.Seconds()})
}

// TestAbuseCallbackBurst: 100 callbacks at once from one address against
// a public limit of 60 a minute: the excess gets 429 with Retry-After;
// the tenant's authenticated calls are unaffected.
func TestAbuseCallbackBurst(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "error", "--public-rate-limit", "60")
	c := newClient(t, g, g.APIKey, 16)
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Do(ctx, "POST", "/v1/callback", "ss_result="+url.QueryEscape("garbage"), false, "Content-Type", "application/x-www-form-urlencoded")
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			statuses[res.Status]++
			mu.Unlock()
			if res.Status == 429 && res.Header.Get("Retry-After") == "" {
				t.Error("429 without Retry-After")
			}
		}()
	}
	wg.Wait()
	t.Logf("100 callbacks from one address, limit 60/min: %v", statuses)
	if statuses[429] < 35 {
		t.Errorf("only %d of 100 got 429", statuses[429])
	}
	if _, err := c.Must(ctx, 200, "POST", "/v1/verify/hash", map[string]any{"hashBase64": "AAAA", "signatureBase64": "AAAA", "certificateBase64": "AAAA"}); err == nil {
		t.Log("verify/hash answered")
	}
	if _, err := c.Must(ctx, 200, "GET", "/v1/audit/logs", nil); err != nil {
		t.Errorf("authenticated call after the burst: %v", err)
	}
}

// canonicalAudit is the gateway's canonical JSON of an audit entry: what a
// forger with the database would recompute the unkeyed chain over.
type canonicalAudit struct {
	TenantID   string `json:"tenantId"`
	Seq        int64  `json:"seq"`
	At         int64  `json:"at"`
	Actor      string `json:"actor"`
	Action     string `json:"action"`
	Origin     string `json:"origin"`
	RequestID  string `json:"requestId"`
	CertSerial string `json:"certSerial"`
	DocHash    string `json:"docHash"`
	Outcome    string `json:"outcome"`
	Detail     string `json:"detail"`
}

func sqlite3(t *testing.T, db string, args ...string) string {
	t.Helper()
	out, err := exec.Command("sqlite3", append([]string{db}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// recomputeChain rewrites the dev tenant's chain as the issue's attacker
// did: entries renumbered, links recomputed with SHA-256, head moved.
func recomputeChain(t *testing.T, db string) {
	t.Helper()
	var rows []canonicalAudit
	if err := json.Unmarshal([]byte(sqlite3(t, db, "-json", "SELECT tenant_id AS tenantId, seq, at, actor, action, origin, request_id AS requestId, cert_serial AS certSerial, doc_hash AS docHash, outcome, detail FROM audit_log WHERE tenant_id = 'dev' ORDER BY seq")), &rows); err != nil {
		t.Fatal(err)
	}
	var sqlText strings.Builder
	sqlText.WriteString("BEGIN;\n")
	prev := make([]byte, 32)
	for i, e := range rows {
		old := e.Seq
		e.Seq = int64(i + 1)
		j, _ := json.Marshal(e)
		h := sha256.Sum256(append(append([]byte{}, prev...), j...))
		fmt.Fprintf(&sqlText, "UPDATE audit_log SET seq = %d, prev_hash = X'%s', hash = X'%s' WHERE tenant_id = 'dev' AND seq = %d;\n", e.Seq, hex.EncodeToString(prev), hex.EncodeToString(h[:]), old)
		prev = h[:]
	}
	fmt.Fprintf(&sqlText, "UPDATE audit_heads SET seq = %d, hash = X'%s' WHERE tenant_id = 'dev';\nCOMMIT;\n", len(rows), hex.EncodeToString(prev))
	sqlite3(t, db, sqlText.String())
}

// auditVerifyFails runs audit-verify (with a checkpoint file, if any) and
// fails t unless it reports the chain invalid.
func auditVerifyFails(t *testing.T, data, checkpoint string) string {
	t.Helper()
	args := []string{"gateway", "admin", "audit-verify", "--data", data, "--tenant", "dev", "--json"}
	if checkpoint != "" {
		args = append(args, "--checkpoint", checkpoint)
	}
	out, err := exec.Command(securesign(t), args...).Output()
	var res struct {
		Valid bool   `json:"valid"`
		Error string `json:"error"`
	}
	json.Unmarshal(out, &res) //nolint:errcheck
	if err == nil || res.Valid {
		t.Fatalf("audit-verify %v passed a tampered chain: %s", args[3:], out)
	}
	return res.Error
}

// TestAuditTamperDetected: the keyed chain and a signed checkpoint catch
// what the unkeyed chain let through (issue 14): an entry deleted with
// sqlite3 and the chain recomputed fails audit-verify; entries cut off the
// end with the head moved back pass the chain but fail against the
// exported checkpoint, which openssl verifies with the published key. The
// database files are 0600, the data directory 0700.
func TestAuditTamperDetected(t *testing.T) {
	testenv.LookPath(t, "sqlite3", "sqlite3")
	openssl := testenv.LookPath(t, "openssl", "openssl")
	ctx := context.Background()
	data := t.TempDir()
	g := startGateway(t, data, "127.0.0.1:0", nil, "--log-level", "warn")
	c := newClient(t, g, g.APIKey, 2)
	ob := lg.NewOutbox(data)
	cred, err := lg.IssueServerKey(ctx, c, ob, "audit-user", "ECDSA-P256")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		doc := testpdf.Minimal(fmt.Sprint("audit ", i))
		oid, code, err := lg.SignOTP(ctx, c, ob, cred.UserID, cred.CertificateID, [][]byte{doc}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Must(ctx, 200, "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(doc),
			"certificateId": cred.CertificateID, "otpId": oid, "otp": code}); err != nil {
			t.Fatal(err)
		}
	}
	db := filepath.Join(data, "gateway.db")
	for _, p := range []string{db, db + "-wal", db + "-shm", filepath.Join(data, "master.key")} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %04o, want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
	for _, p := range []string{data, filepath.Join(data, "files")} {
		if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v %v, want 0700", p, err, fi.Mode())
		}
	}
	if err := g.Stop(); err != nil {
		t.Fatal(err)
	}
	n := adminAuditVerify(t, data)
	dir := t.TempDir()
	cp := filepath.Join(dir, "checkpoint.json")
	run := func(args ...string) []byte {
		out, err := exec.Command(securesign(t), args...).Output()
		if err != nil {
			t.Fatalf("%v: %v %s", args, err, out)
		}
		return out
	}
	run("gateway", "admin", "audit-checkpoint", "--data", data, "--tenant", "dev", "--out", cp)
	pub := run("gateway", "admin", "audit-key", "--data", data)
	var cpv struct {
		Seq       int64  `json:"seq"`
		Payload   []byte `json:"payload"`
		Signature []byte `json:"signature"`
	}
	b, _ := os.ReadFile(cp)
	if err := json.Unmarshal(b, &cpv); err != nil || cpv.Seq != int64(n) {
		t.Fatalf("checkpoint %s: %v", b, err)
	}
	os.WriteFile(filepath.Join(dir, "pub.pem"), pub, 0o600)
	os.WriteFile(filepath.Join(dir, "payload.bin"), cpv.Payload, 0o600)
	os.WriteFile(filepath.Join(dir, "sig.bin"), cpv.Signature, 0o600)
	if out, err := exec.Command(openssl, "pkeyutl", "-verify", "-pubin", "-inkey", filepath.Join(dir, "pub.pem"), "-rawin",
		"-in", filepath.Join(dir, "payload.bin"), "-sigfile", filepath.Join(dir, "sig.bin")).CombinedOutput(); err != nil || !strings.Contains(string(out), "Verified Successfully") {
		t.Fatalf("openssl: %v %s", err, out)
	}
	run("gateway", "admin", "audit-verify", "--data", data, "--tenant", "dev", "--checkpoint", cp)

	// Cut the last entry off and move the head back: every link is still
	// valid, only the checkpoint knows.
	sqlite3(t, db, fmt.Sprintf("DELETE FROM audit_log WHERE tenant_id = 'dev' AND seq = %d; UPDATE audit_heads SET seq = %d, hash = (SELECT hash FROM audit_log WHERE tenant_id = 'dev' AND seq = %d) WHERE tenant_id = 'dev';", n, n-1, n-1))
	if got := adminAuditVerify(t, data); got != n-1 {
		t.Fatalf("after the cut: %d entries", got)
	}
	t.Logf("cut chain against the checkpoint: %s", auditVerifyFails(t, data, cp))
	// Delete the server signatures' entries and recompute the chain.
	deleted := sqlite3(t, db, "SELECT COUNT(*) FROM audit_log WHERE tenant_id = 'dev' AND action = 'pdf.sign.server'; DELETE FROM audit_log WHERE tenant_id = 'dev' AND action = 'pdf.sign.server';")
	recomputeChain(t, db)
	t.Logf("%s pdf.sign.server entries deleted, chain recomputed: %s", strings.TrimSpace(deleted), auditVerifyFails(t, data, ""))
}

// TestDesktopOpenTrailingFlags: "desktop open LINK --browser PROG" (what a
// registration without "--" let a crafted link do) refuses and runs
// nothing.
func TestDesktopOpenTrailingFlags(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	prog := filepath.Join(dir, "browser.sh")
	os.WriteFile(prog, []byte("#!/bin/sh\ntouch "+marker+"\n"), 0o700)
	link := "securesign://sign?requestId=x&callbackUrl=http%3A%2F%2F127.0.0.1%3A1%2Fcb"
	for _, args := range [][]string{
		{"desktop", "open", link, "--browser", prog},
		{"desktop", "open", "--", link, "--browser", prog},
	} {
		cmd := exec.Command(securesign(t), args...)
		cmd.Env = append(os.Environ(), "XDG_RUNTIME_DIR="+dir, "XDG_CONFIG_HOME="+dir)
		out, err := cmd.CombinedOutput()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 2 || !strings.Contains(string(out), "nothing may follow the link") {
			t.Errorf("%q: %v\n%s", args, err, out)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(marker); err == nil {
		t.Error("the --browser program ran")
	}
	_ = http.StatusOK
}
