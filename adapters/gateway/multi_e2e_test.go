package gateway

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/signer"
)

// TestThreeGatewaysRoundRobinPostgres: three gateway processes (the real
// binary) on one PostgreSQL, each with its own data directory, sharing only
// the DSN and the master key, behind a round-robin reverse proxy. Every
// step of onboarding (user, issue code read back through the dev route,
// certificate from a CSR and with a server-held key), of a token PDF
// session (create, key set, result, status, download) and of server-key
// signing (consent-bound code, sign) lands on another instance than the
// step before; every PDF passes pdfsig with one signature and no PDF is
// left in a data directory. Then: an API key revoked through the admin
// command is refused by all three instances within 100 ms, and a browser
// streaming a session's watchUrl from one instance sees it signed when
// the result lands on another.
func TestThreeGatewaysRoundRobinPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	cl := startCluster(t, 3)
	c := &rrClient{t: t, cl: cl}
	for i := range 3 {
		f := c.flow(fmt.Sprint("rr", i), false)
		if f == nil {
			t.Fatalf("flow %d abandoned without a kill", i)
		}
		for _, p := range f.pdfs {
			checkOneSignature(t, pdfsig, p.name, p.pdf)
		}
	}
	// Each step on another instance than the step before, and each kind
	// of step on every instance over the three flows.
	on := map[string]map[int]bool{}
	for i, s := range c.steps {
		if i > 0 && s.inst == c.steps[i-1].inst {
			t.Errorf("steps %q and %q both on instance %d", c.steps[i-1].name, s.name, s.inst)
		}
		if on[s.name] == nil {
			on[s.name] = map[int]bool{}
		}
		on[s.name][s.inst] = true
	}
	for name, insts := range on {
		if len(insts) != 3 {
			t.Errorf("step %q answered only by instances %v", name, insts)
		}
	}
	t.Logf("%d steps: %v", len(c.steps), c.steps)
	for i := range cl.hits {
		if cl.hits[i].Load() < 8 {
			t.Errorf("instance %d took %d requests", i, cl.hits[i].Load())
		}
	}
	for _, d := range cl.dirs {
		if local, _ := filepath.Glob(filepath.Join(d, "files", "*.pdf")); len(local) > 0 {
			t.Errorf("PDFs in a data directory: %v", local)
		}
	}

	t.Run("revocation", func(t *testing.T) { revokeAcrossProcesses(t, cl) })
	t.Run("watch", func(t *testing.T) { watchAcrossProcesses(t, cl, c) })
	cl.auditVerify(t)
	for _, p := range cl.procs {
		p.stop()
	}
}

// revokeAcrossProcesses: an API key that every instance has cached, revoked
// by "securesign gateway admin key-revoke" (a fourth process on the same
// database: the gateway has no HTTP route for keys), is refused by all
// three instances within 100 ms of the command's exit.
func revokeAcrossProcesses(t *testing.T, cl *cluster) {
	out := cl.admin(t, "key-create", "--tenant", DevTenantID, "--name", "revoke-me")
	key, ok := strings.CutPrefix(strings.TrimSpace(out), "api key: ")
	if !ok {
		t.Fatalf("key-create = %q", out)
	}
	_, rest, _ := strings.Cut(key, "ss_test_")
	id := rest[:16]
	get := func(p *gwProc) int {
		req, _ := http.NewRequest("GET", p.url+"/v1/audit/logs?limit=1", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body) //nolint:errcheck
		res.Body.Close()
		return res.StatusCode
	}
	for i, p := range cl.procs {
		if code := get(p); code != 200 {
			t.Fatalf("instance %d: new key answered %d", i, code)
		}
	}
	cl.admin(t, "key-revoke", "--tenant", DevTenantID, "--id", id)
	start := time.Now()
	refused := make([]time.Duration, len(cl.procs))
	for pending := len(cl.procs); pending > 0; {
		for i, p := range cl.procs {
			if refused[i] == 0 && get(p) == 401 {
				refused[i] = time.Since(start)
				pending--
			}
		}
		if time.Since(start) > 2*time.Second {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	t.Logf("revoked key refused after %v", refused)
	for i, d := range refused {
		if d == 0 || d > 100*time.Millisecond {
			t.Errorf("instance %d refused the revoked key after %v, want within 100ms", i, d)
		}
	}
}

// watchAcrossProcesses: a customer's browser streams a session's watchUrl
// from instance 0; the app's result lands on instance 1. The stream says
// signed well before instance 0's own re-read of the store (watchPoll):
// the completion reached it through LISTEN/NOTIFY.
func watchAcrossProcesses(t *testing.T, cl *cluster, c *rrClient) {
	a, b := cl.procs[0], cl.procs[1]
	ga := a.client(cl.dirs[0], cl.key)
	out := ga.must(201, "POST", "/v1/sign/hash", cl.key, map[string]any{"hashBase64": b64(digest("watched"))})
	watch := strings.Replace(out["watchUrl"].(string), cl.front, a.url, 1)
	if !strings.HasPrefix(watch, a.url) {
		t.Fatalf("watchUrl %s is not on the front %s", out["watchUrl"], cl.front)
	}
	events := watchEvents(t, watch)
	if first := <-events; !strings.Contains(first, `"status":"pending"`) {
		t.Fatalf("first event %s", first)
	}
	_, ks := ga.raw("GET", "/.well-known/securesign-keys.json", "", nil)
	enc := signLinkWith(t, out["deepLink"].(string), ks, c.signer)
	start := time.Now()
	if code, ans := b.client(cl.dirs[1], cl.key).postResult(enc); code != 200 || ans["status"] != "signed" {
		t.Fatalf("callback on instance 1 = %d %v", code, ans)
	}
	select {
	case ev := <-events:
		took := time.Since(start)
		if !strings.Contains(ev, `"status":"signed"`) {
			t.Fatalf("next event %s", ev)
		}
		t.Logf("stream on instance 0 saw signed %v after the result reached instance 1", took.Round(time.Millisecond))
		if took >= watchPoll/2 {
			t.Errorf("signed seen after %v: the poll (%v), not a notification", took, watchPoll)
		}
	case <-time.After(watchPoll + 5*time.Second):
		t.Fatal("the stream on instance 0 never said signed")
	}
}

// TestThreeGatewaysKillOnePostgres: the same flows (onboarding, token PDF
// session, server-key signing) through the proxy while a chaos loop kills
// a random instance with SIGKILL at random moments and starts it again.
// The client retries what got no answer (transport error, 502, 503, 409
// "still running" until the dead instance's reservation is released) and
// gives a flow up only when a kill left a step unrepeatable (a code the
// killed request spent, codes it made). Every token session answered
// signed ends signed, and every PDF the client was given passes pdfsig
// with exactly one signature; the audit chain verifies.
func TestThreeGatewaysKillOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	pdfsig := testenv.LookPath(t, "pdfsig", "poppler-utils")
	cl := startCluster(t, 3)
	c := &rrClient{t: t, cl: cl}

	stop := make(chan struct{})
	var stopOnce sync.Once
	stopChaos := func() { stopOnce.Do(func() { close(stop) }) }
	done := make(chan struct{})
	t.Cleanup(func() { stopChaos(); <-done })
	var kills atomic.Int64
	var mu sync.Mutex // cl.procs
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(20+mrand.IntN(300)) * time.Millisecond):
			}
			victim := mrand.IntN(3)
			mu.Lock()
			p := cl.procs[victim]
			mu.Unlock()
			p.kill()
			kills.Add(1)
			time.Sleep(time.Duration(mrand.IntN(100)) * time.Millisecond)
			np, err := restartGateway(cl, victim)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			cl.procs[victim] = np
			mu.Unlock()
		}
	}()

	var flows []*flowResult
	abandoned := 0
	deadline := time.Now().Add(120 * time.Second)
	for i := 0; (len(flows) < 8 || kills.Load() < 10) && time.Now().Before(deadline); i++ {
		if f := c.flow(fmt.Sprint("kill", i), true); f != nil {
			flows = append(flows, f)
		} else {
			abandoned++
		}
	}
	stopChaos()
	<-done
	t.Logf("%d flows complete, %d given up after a kill, %d kills, %d token sessions and %d server-key signatures answered signed; steps retried after no answer: %v",
		len(flows), abandoned, kills.Load(), len(c.accepted), len(c.remote), c.retried)
	if len(flows) < 3 || kills.Load() < 3 {
		t.Fatalf("%d flows complete under %d kills: too few to say anything", len(flows), kills.Load())
	}
	// Every session the portal saw accepted: signed, one signature.
	c.kill = false
	for _, rid := range c.accepted {
		if st := c.do("status", "GET", "/v1/sessions/"+rid+"?pdf=0", nil); st.code != 200 || st.body["status"] != "signed" {
			t.Errorf("session %s: %d %v", rid, st.code, st.body)
		}
		dl := c.do("download", "GET", "/v1/sessions/"+rid+"/pdf", nil)
		if dl.code != 200 {
			t.Errorf("session %s: download %d", rid, dl.code)
			continue
		}
		checkOneSignature(t, pdfsig, rid, dl.raw)
	}
	for i, p := range c.remote {
		checkOneSignature(t, pdfsig, fmt.Sprint("server-key ", i), p)
	}
	cl.auditVerify(t)
	for _, p := range cl.procs {
		p.stop()
	}
}

// restartGateway starts instance i again on its address and directory
// (from the chaos goroutine: errors are returned, not fatal).
func restartGateway(cl *cluster, i int) (p *gwProc, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("restart %d: %v", i, r)
		}
	}()
	old := cl.procs[i]
	return startGatewayArgs(old.t, cl.dirs[i], old.addr, []string{"--public-url", cl.front}, cl.env...), nil
}

// checkOneSignature runs pdfsig on doc: valid, exactly one signature.
func checkOneSignature(t *testing.T, pdfsig, name string, doc []byte) {
	t.Helper()
	if !bytes.HasPrefix(doc, []byte("%PDF")) {
		t.Errorf("%s: not a PDF: %.100q", name, doc)
		return
	}
	path := filepath.Join(t.TempDir(), "signed.pdf")
	if err := os.WriteFile(path, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := exec.Command(pdfsig, path).CombinedOutput()
	if !strings.Contains(string(rep), "Signature is Valid") || !strings.Contains(string(rep), "Signature #1") || strings.Contains(string(rep), "Signature #2") {
		t.Errorf("%s: pdfsig: %v\n%s", name, err, rep)
	}
}

// auditVerify runs "securesign gateway admin audit-verify" on the shared
// database.
func (cl *cluster) auditVerify(t *testing.T) {
	t.Helper()
	out := cl.admin(t, "audit-verify", "--tenant", DevTenantID)
	if !strings.Contains(out, "valid") || strings.Contains(out, "invalid") {
		t.Errorf("audit-verify: %s", out)
	} else {
		t.Logf("audit-verify: %s", strings.TrimSpace(out))
	}
}

// admin runs "securesign gateway admin <args>" on the shared database.
func (cl *cluster) admin(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(securesignBinary(t), append([]string{"gateway", "admin", args[0], "--data", t.TempDir()}, args[1:]...)...)
	cmd.Env = append(os.Environ(), cl.env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("admin %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// rrClient is a portal (and its users' apps) talking to the cluster only
// through the proxy. It records which instance answered each step.
type rrClient struct {
	t     *testing.T
	cl    *cluster
	kill  bool // instances are being killed: tolerate what a kill explains
	steps []step
	// retried counts, by step, the sends that got no answer.
	retried map[string]int
	// signer is the app (key and certificate from a CSR) of the last
	// flow's user.
	signer signer.Signer
	// accepted are token sessions whose result was answered signed;
	// remote the PDFs that server-key signing answered.
	accepted []string
	remote   [][]byte
}

type step struct {
	name string
	inst int
}

func (s step) String() string { return fmt.Sprintf("%s@%d", s.name, s.inst) }

type rrAnswer struct {
	code int
	body map[string]any
	raw  []byte
}

// do sends one step through the proxy, again while it gets no answer (a
// dead instance: transport error, 502, 503, or its request's reservation
// still held). body is JSON, or a form when a string.
func (c *rrClient) do(name, method, path string, body any, hdr ...string) rrAnswer {
	c.t.Helper()
	for range 300 {
		var r io.Reader
		ct := "application/json"
		switch b := body.(type) {
		case nil:
		case string:
			r, ct = strings.NewReader(b), "application/x-www-form-urlencoded"
		default:
			j, _ := json.Marshal(b)
			r = bytes.NewReader(j)
		}
		req, _ := http.NewRequest(method, c.cl.front+path, r)
		if body != nil {
			req.Header.Set("Content-Type", ct)
		}
		if name != "callback" && name != "key set" {
			req.Header.Set("Authorization", "Bearer "+c.cl.key)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		var raw []byte
		if err == nil {
			raw, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		// 409 "still running": the reservation of a request whose
		// instance was killed, until the database ends that instance's
		// session (its liveness lock): retried as a portal would.
		running := err == nil && res.StatusCode == 409 && bytes.Contains(raw, []byte("still running"))
		if err != nil || res.StatusCode == 502 || res.StatusCode == 503 || running {
			if c.retried == nil {
				c.retried = map[string]int{}
			}
			c.retried[name]++
			time.Sleep(20 * time.Millisecond)
			continue
		}
		inst, _ := strconv.Atoi(res.Header.Get(instanceHeader))
		c.steps = append(c.steps, step{name, inst})
		a := rrAnswer{code: res.StatusCode, raw: raw, body: map[string]any{}}
		if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			json.Unmarshal(raw, &a.body) //nolint:errcheck
		}
		return a
	}
	c.t.Fatalf("%s %s: no answer after retries", method, path)
	return rrAnswer{}
}

// expect checks a step's answer. Under kills an answer a kill explains
// (the dead instance's reservation still held, a code it spent, a code
// whose outbox record it never wrote) gives the flow up: false.
func (c *rrClient) expect(a rrAnswer, name string, want int) bool {
	c.t.Helper()
	if a.code == want {
		return true
	}
	if c.kill {
		switch {
		case a.code == 401 || a.code == 423, // a code spent or counted by a killed request
			a.code == 429 && name == "otp",     // codes made by killed requests count
			a.code == 404 && name == "dev otp": // killed between the code and its outbox record
			c.t.Logf("%s: %d %s (after a kill): flow given up", name, a.code, a.raw)
			return false
		}
	}
	c.t.Fatalf("%s: %d %s, want %d", name, a.code, a.raw, want)
	return false
}

// user creates a user; "" when given up.
func (c *rrClient) user(tag string) string {
	a := c.do("create user", "POST", "/v1/users", map[string]any{"externalId": "user-" + tag, "name": "Rajesh Kumar", "email": "rajesh@example.in",
		"state": "Karnataka", "postalCode": "560001"}, "Idempotency-Key", "user-"+tag)
	if c.kill && a.code == 409 && a.body["userId"] != nil {
		// The retry took over the reservation of a killed request that
		// had made the user: the conflict names it (README: a portal that
		// lost the first answer carries on with that userId).
		return a.body["userId"].(string)
	}
	if !c.expect(a, "create user", 201) {
		return ""
	}
	return a.body["userId"].(string)
}

// code asks for a code and reads it back through the dev route (on
// another instance); "" when given up.
func (c *rrClient) code(uid string, req map[string]any) (string, string) {
	a := c.do("otp", "POST", "/v1/users/"+uid+"/otp", req)
	if !c.expect(a, "otp", 201) {
		return "", ""
	}
	oid := a.body["otpId"].(string)
	d := c.do("dev otp", "GET", "/v1/dev/otp/"+oid, nil)
	if !c.expect(d, "dev otp", 200) {
		return "", ""
	}
	if d.body["otpId"] != oid || d.body["purpose"] != req["purpose"] || d.body["success"] != true {
		c.t.Fatalf("dev otp answered %v", d.body)
	}
	return oid, d.body["code"].(string)
}

// issue issues uid a certificate (req: csrPem or keyAlgo); nil when given up.
func (c *rrClient) issue(uid string, req map[string]any) map[string]any {
	oid, code := c.code(uid, map[string]any{"purpose": "issue"})
	if oid == "" {
		return nil
	}
	req["userId"], req["otpId"], req["otp"] = uid, oid, code
	a := c.do("issue", "POST", "/v1/certificates/issue", req, "Idempotency-Key", "issue-"+oid)
	if !c.expect(a, "issue", 201) {
		return nil
	}
	return a.body
}

type flowResult struct {
	pdfs []namedPDF
}

type namedPDF struct {
	name string
	pdf  []byte
}

// flow onboards a user (certificates from a CSR and with a server-held
// key), runs a token PDF session and signs a PDF with the server-held key.
// nil when a kill made a step unrepeatable.
func (c *rrClient) flow(tag string, kill bool) *flowResult {
	c.t.Helper()
	c.kill = kill
	t := c.t
	f := &flowResult{}
	uid := c.user(tag)
	if uid == "" {
		return nil
	}
	k := testpki.Key(t, testpki.P256, 45)
	issued := c.issue(uid, map[string]any{"csrPem": csrPEM(t, k)})
	if issued == nil {
		return nil
	}
	app := appSigner(t, k, issued)
	c.signer = app
	server := c.issue(uid, map[string]any{"keyAlgo": "ECDSA-P256"})
	if server == nil {
		return nil
	}

	// Token PDF session.
	doc := testpdf.Minimal("three gateways " + tag)
	a := c.do("create session", "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": b64(doc), "certSerial": issued["serialNumber"]}, "Idempotency-Key", "pdf-"+tag)
	if !c.expect(a, "create session", 201) {
		return nil
	}
	rid := a.body["requestId"].(string)
	ks := c.do("key set", "GET", "/.well-known/securesign-keys.json", nil)
	enc := signLinkWith(t, a.body["deepLink"].(string), ks.raw, app)
	cb := c.do("callback", "POST", "/v1/callback", "ss_result="+urlQueryEscape(enc))
	if cb.code != 200 || cb.body["status"] != "signed" {
		t.Fatalf("session %s: callback = %d %s", rid, cb.code, cb.raw)
	}
	c.accepted = append(c.accepted, rid)
	if st := c.do("status", "GET", "/v1/sessions/"+rid+"?pdf=0", nil); st.code != 200 || st.body["status"] != "signed" {
		t.Fatalf("session %s: status %d %s", rid, st.code, st.raw)
	}
	dl := c.do("download", "GET", "/v1/sessions/"+rid+"/pdf", nil)
	if dl.code != 200 {
		t.Fatalf("session %s: download %d %.200s", rid, dl.code, dl.raw)
	}
	f.pdfs = append(f.pdfs, namedPDF{"token " + rid, dl.raw})

	// Server-key signing with a code bound to the document.
	remote := testpdf.Minimal("server key " + tag)
	sum := sha256.Sum256(remote)
	cid := server["certificateId"].(string)
	oid, code := c.code(uid, map[string]any{"purpose": "sign", "certificateId": cid,
		"documents": []map[string]string{{"sha256": hex.EncodeToString(sum[:]), "name": "Loan " + tag + ".pdf"}}})
	if oid == "" {
		return nil
	}
	s := c.do("server sign", "POST", "/v1/sign/pdf", map[string]any{"pdfBase64": b64(remote), "certificateId": cid, "otpId": oid, "otp": code},
		"Idempotency-Key", "sign-"+oid)
	if !c.expect(s, "server sign", 200) {
		return nil
	}
	signed, err := base64.StdEncoding.DecodeString(s.body["signedPdfBase64"].(string))
	if err != nil {
		t.Fatal(err)
	}
	c.remote = append(c.remote, signed)
	f.pdfs = append(f.pdfs, namedPDF{"server-key " + tag, signed})
	// The portal reads its audit log (16 steps a flow: the next flow's
	// steps land on other instances than this one's).
	if a := c.do("audit", "GET", "/v1/audit/logs?limit=5", nil); !c.expect(a, "audit", 200) {
		return nil
	}
	return f
}

// instanceHeader is set by the test's proxy on each answer: the index of
// the instance that answered.
const instanceHeader = "X-Test-Instance"

// cluster is n gateway processes on one PostgreSQL schema behind a
// round-robin reverse proxy at front.
type cluster struct {
	procs []*gwProc
	dirs  []string
	key   string
	front string
	hits  []atomic.Int64
	env   []string
}

func startCluster(t testing.TB, n int) *cluster {
	t.Helper()
	dsn := postgresSchemaDSN(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &cluster{front: "http://" + ln.Addr().String(), hits: make([]atomic.Int64, n)}
	env := []string{"SECURESIGN_POSTGRES_DSN=" + dsn, "SECURESIGN_MASTER_KEY=" + strings.Repeat("5a", 32)}
	cl.env = env
	var backends []*url.URL
	for range n {
		dir := t.TempDir()
		p := startGatewayArgs(t, dir, "127.0.0.1:0", []string{"--public-url", cl.front}, env...)
		cl.procs, cl.dirs = append(cl.procs, p), append(cl.dirs, dir)
		u, _ := url.Parse("http://" + p.addr)
		backends = append(backends, u)
	}
	if cl.key = cl.procs[0].key; cl.key == "" {
		t.Fatal("first gateway printed no key")
	}
	var next atomic.Uint64
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		i := int(next.Add(1) % uint64(n))
		cl.hits[i].Add(1)
		r.SetURL(backends[i])
		r.Out.Host = r.In.Host
		r.Out.Header.Set(instanceHeader, strconv.Itoa(i))
	}, ModifyResponse: func(res *http.Response) error {
		// Which instance answered, for the test to assert.
		res.Header.Set(instanceHeader, res.Request.Header.Get(instanceHeader))
		return nil
	}, ErrorLog: log.New(io.Discard, "", 0)} // a killed instance is a 502 the test retries
	srv := &http.Server{Handler: proxy}
	go srv.Serve(ln) //nolint:errcheck
	t.Cleanup(func() { srv.Close() })
	return cl
}

// BenchmarkGatewaysRoundRobin: token hash sessions (create, result,
// status) through the proxy, on one and on three gateway processes.
func BenchmarkGatewaysRoundRobin(b *testing.B) {
	for _, n := range []int{1, 3} {
		b.Run(fmt.Sprintf("instances=%d", n), func(b *testing.B) {
			cl := startCluster(b, n)
			direct := cl.procs[0].client(cl.dirs[0], cl.key)
			k := testpki.Key(b, testpki.P256, 42)
			issued := direct.issueCSR(cl.key, "bench-user", k)
			app := appSigner(b, k, issued)
			b.SetParallelism(8) // 16 portals in flight: enough to keep 2 cores busy
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				g := &testGW{t: b, url: cl.front, key: cl.key, dir: cl.dirs[0], clock: &testClock{}}
				i := 0
				for pb.Next() {
					i++
					out := g.must(201, "POST", "/v1/sign/hash", cl.key, map[string]any{"hashBase64": b64(digest(fmt.Sprint("bench", i, mrand.Int64())))})
					enc := signLink(b, g, out["deepLink"].(string), app)
					if code, ans := g.postResult(enc); code != 200 || ans["status"] != "signed" {
						b.Fatalf("callback = %d %v", code, ans)
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
		})
	}
}
