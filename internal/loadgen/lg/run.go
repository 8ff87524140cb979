package lg

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/securesign/securesign/callback"
)

const hashSHA256 = crypto.SHA256

// Modes of [Run].
const (
	ModeSessions = "sessions" // create hash session, sign, deliver ss_result
	ModeMixed    = "mixed"    // sessions + status, PDF validation, health, bad requests
	ModeSignHash = "signhash" // CSC: OTP, credentials/authorize, signatures/signHash
)

// MaxDuration bounds every run: the generator always stops by itself.
const MaxDuration = time.Hour

// Config says what load to make.
type Config struct {
	Mode        string
	Client      *Client
	Concurrency int           // workers, default 8
	Duration    time.Duration // measured time, default 10 s, at most MaxDuration
	Warmup      time.Duration // load before measuring starts
	Count       int64         // stop after this many completed operations (0: duration only)
	CheckStatus bool          // sessions: GET /v1/sessions/{id} after the callback and check "signed"
	// Sticky keeps each worker to one of the client's gateways (every step
	// of its sessions on one instance) instead of round robin per request.
	Sticky bool
	Hashes int // digests per session or per signHash call, default 1

	App        *App        // sessions, mixed
	Outbox     *Outbox     // signhash
	Credential *Credential // signhash
	PDF        []byte      // mixed: a small signed or unsigned PDF for /v1/verify/pdf
	PID        int         // gateway pid for /proc figures, 0 if unknown
	// Settle is how long to wait after the load, idle connections closed,
	// for the goroutine count to come back down (default 3 s).
	Settle time.Duration
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// OpStats are the figures of one kind of request.
type OpStats struct {
	Count      int64       `json:"count"`
	Unexpected int64       `json:"unexpected"`
	Latency    Percentiles `json:"latencyMs"`
}

// Report is the outcome of a run.
type Report struct {
	Mode        string  `json:"mode"`
	Target      string  `json:"target"`
	Concurrency int     `json:"concurrency"`
	Seconds     float64 `json:"seconds"`
	Presigned   bool    `json:"presigned"`
	// Completed counts finished units of work in the measured window: a
	// session created, signed, delivered (and checked), or a signHash call.
	Completed  int64       `json:"completed"`
	Rate       float64     `json:"completedPerSecond"`
	Hashes     int         `json:"hashes"` // digests per session or signHash call
	Signatures int64       `json:"signatures,omitzero"`
	SigRate    float64     `json:"signaturesPerSecond,omitzero"`
	Latency    Percentiles `json:"latencyMs"`
	// Ops has per-request figures, keyed "METHOD route".
	Ops map[string]*OpStats `json:"ops"`
	// Statuses counts answers by "op status" (transport failures as "op error").
	Statuses        map[string]int64 `json:"statuses"`
	ServerErrors    int64            `json:"serverErrors"`    // 5xx answers
	Unexpected      int64            `json:"unexpected"`      // answers other than the expected class
	TransportErrors int64            `json:"transportErrors"` // no answer
	Samples         []string         `json:"samples,omitempty"`

	// GatewayCPUPerUnit is the gateway's CPU time (user+system) per
	// completed unit in the measured window, in milliseconds, and
	// LoadgenCPUPerUnit this process's: figures that hold on a busy
	// machine, unlike the rate. CapacityAt2Cores is 2 s of CPU per second
	// divided by their sum: the rate two dedicated cores could sustain.
	GatewayCPUPerUnit float64 `json:"gatewayCpuMsPerUnit"`
	LoadgenCPUPerUnit float64 `json:"loadgenCpuMsPerUnit"`
	CapacityAt2Cores  float64 `json:"capacityAt2Cores"`

	// Baseline is the raw rate of the signhash key through package signer
	// (see SignerBaseline), when measured; VsBaseline the ratios of the
	// signHash figures to it (CompareBaseline).
	Baseline   *Baseline `json:"signerBaseline,omitempty"`
	VsBaseline struct {
		Rate            float64 `json:"rate"`
		Capacity        float64 `json:"capacity"`
		GatewayCapacity float64 `json:"gatewayCapacity"`
	} `json:"vsBaseline,omitzero"`

	Start   Sample `json:"start"`   // before any load
	Warm    Sample `json:"warm"`    // when measuring began
	End     Sample `json:"end"`     // when the load stopped
	Settled Sample `json:"settled"` // after Settle with idle connections closed
}

type rec struct {
	op     string
	status int // 0: transport error
	d      time.Duration
	bad    bool
	note   string
}

type worker struct {
	recs    []rec
	main    []time.Duration
	done    int64
	sigs    int64
	lastReq string
	lastRes string
}

// Run drives the gateway until Duration (after Warmup) has passed or Count
// units have completed, whichever is first, and reports.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Client == nil {
		return nil, errors.New("lg: no client")
	}
	if _, err := CheckLoopback(cfg.Client.BaseURL); err != nil {
		return nil, err
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	if cfg.Duration <= 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Duration+cfg.Warmup > MaxDuration {
		return nil, fmt.Errorf("lg: duration %v above the limit %v", cfg.Duration+cfg.Warmup, MaxDuration)
	}
	if cfg.Hashes <= 0 {
		cfg.Hashes = 1
	}
	if cfg.Hashes > 50 {
		return nil, errors.New("lg: at most 50 hashes per request")
	}
	if cfg.Settle <= 0 {
		cfg.Settle = 3 * time.Second
	}
	switch cfg.Mode {
	case ModeSessions, ModeMixed:
		if cfg.App == nil {
			return nil, fmt.Errorf("lg: mode %s needs an App (a certified key)", cfg.Mode)
		}
	case ModeSignHash:
		if cfg.Outbox == nil || cfg.Credential == nil {
			return nil, errors.New("lg: mode signhash needs the OTP outbox and a server-key credential")
		}
	default:
		return nil, fmt.Errorf("lg: unknown mode %q (sessions, mixed, signhash)", cfg.Mode)
	}
	rep := &Report{Mode: cfg.Mode, Target: cfg.Client.BaseURL, Concurrency: cfg.Concurrency, Hashes: cfg.Hashes, Ops: map[string]*OpStats{}, Statuses: map[string]int64{}}
	if cfg.App != nil {
		rep.Presigned = !cfg.App.SignedEach
	}
	var err error
	if rep.Start, err = Scrape(ctx, cfg.Client, cfg.PID); err != nil {
		return nil, fmt.Errorf("lg: metrics before the load: %w", err)
	}

	runCtx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration)
	defer cancel()
	measureFrom := time.Now().Add(cfg.Warmup)
	var completed atomic.Int64
	workers := make([]*worker, cfg.Concurrency)
	var wg sync.WaitGroup
	for i := range workers {
		w := &worker{}
		workers[i] = w
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cfg := cfg
			if cfg.Sticky && len(cfg.Client.Bases) > 1 {
				cfg.Client = cfg.Client.Pinned(i)
			}
			rng := mrand.New(mrand.NewPCG(uint64(i), uint64(time.Now().UnixNano())))
			for n := 0; runCtx.Err() == nil; n++ {
				start := time.Now()
				measured := !start.Before(measureFrom)
				var ok bool
				var sigs int
				before := len(w.recs)
				switch cfg.Mode {
				case ModeSessions:
					ok = w.session(runCtx, &cfg, i*1_000_003+n)
					sigs = cfg.Hashes
				case ModeMixed:
					ok, sigs = w.mixed(runCtx, &cfg, rng, i*1_000_003+n)
				case ModeSignHash:
					ok = w.signHash(runCtx, &cfg)
					sigs = cfg.Hashes
				}
				if runCtx.Err() != nil && !ok {
					w.recs = w.recs[:before] // cut off by the deadline: not a result
					break
				}
				if !measured {
					w.recs = w.recs[:before]
					continue
				}
				if ok && sigs > 0 {
					w.main = append(w.main, time.Since(start))
					w.done++
					w.sigs += int64(sigs)
					if cfg.Count > 0 && completed.Add(1) >= cfg.Count {
						cancel()
					}
				}
			}
		}(i)
	}
	// The warm sample is taken when measuring starts.
	select {
	case <-time.After(time.Until(measureFrom)):
	case <-runCtx.Done():
	}
	if s, err := Scrape(ctx, cfg.Client, cfg.PID); err == nil {
		rep.Warm = s
	}
	selfStart := selfCPU()
	wg.Wait()
	elapsed := time.Since(measureFrom)
	selfEnd := selfCPU()
	rep.End, _ = Scrape(ctx, cfg.Client, cfg.PID)
	cfg.Client.CloseIdle()
	rep.Settled = settle(ctx, cfg.Client, cfg.PID, rep.Start.Goroutines, cfg.Settle)

	rep.Seconds = elapsed.Seconds()
	var main []time.Duration
	byOp := map[string][]time.Duration{}
	for _, w := range workers {
		rep.Completed += w.done
		rep.Signatures += w.sigs
		main = append(main, w.main...)
		for _, r := range w.recs {
			st := rep.Ops[r.op]
			if st == nil {
				st = &OpStats{}
				rep.Ops[r.op] = st
			}
			st.Count++
			key := r.op + " " + fmt.Sprint(r.status)
			if r.status == 0 {
				key = r.op + " error"
				rep.TransportErrors++
			} else {
				byOp[r.op] = append(byOp[r.op], r.d)
			}
			rep.Statuses[key]++
			if r.status >= 500 {
				rep.ServerErrors++
			}
			if r.bad {
				st.Unexpected++
				rep.Unexpected++
				if len(rep.Samples) < 20 {
					rep.Samples = append(rep.Samples, fmt.Sprintf("%s → %d: %s", r.op, r.status, r.note))
				}
			}
		}
	}
	for op, ds := range byOp {
		rep.Ops[op].Latency = percentiles(ds)
	}
	rep.Latency = percentiles(main)
	if rep.Seconds > 0 {
		rep.Rate = float64(rep.Completed) / rep.Seconds
		rep.SigRate = float64(rep.Signatures) / rep.Seconds
	}
	if cfg.Mode != ModeSignHash {
		rep.Signatures, rep.SigRate = 0, 0
	}
	if rep.Completed > 0 && rep.Warm.CPUSeconds > 0 {
		rep.GatewayCPUPerUnit = (rep.End.CPUSeconds - rep.Warm.CPUSeconds) * 1000 / float64(rep.Completed)
		rep.LoadgenCPUPerUnit = (selfEnd - selfStart).Seconds() * 1000 / float64(rep.Completed)
		if sum := rep.GatewayCPUPerUnit + rep.LoadgenCPUPerUnit; sum > 0 {
			rep.CapacityAt2Cores = 2000 / sum
		}
	}
	return rep, nil
}

// settle waits (up to d) for the goroutine count to return to base+10 and
// returns the last sample.
func settle(ctx context.Context, c *Client, pid, base int, d time.Duration) Sample {
	deadline := time.Now().Add(d)
	var s Sample
	for {
		time.Sleep(250 * time.Millisecond)
		var err error
		s, err = Scrape(ctx, c, pid)
		c.CloseIdle() // the scrape's own connection
		if err == nil && s.Goroutines <= base+10 || time.Now().After(deadline) {
			return s
		}
	}
}

func percentiles(ds []time.Duration) Percentiles {
	if len(ds) == 0 {
		return Percentiles{}
	}
	slices.Sort(ds)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(ds)))) - 1
		i = max(0, min(i, len(ds)-1))
		return float64(ds[i].Microseconds()) / 1000
	}
	return Percentiles{P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: float64(ds[len(ds)-1].Microseconds()) / 1000}
}

// call does one request and records it; want is the expected status class
// (2 for 2xx, 4 for 4xx) or an exact status.
func (w *worker) call(ctx context.Context, c *Client, op string, want int, method, path string, body any, auth bool, hdr ...string) (*Response, bool) {
	start := time.Now()
	res, err := c.Do(ctx, method, path, body, auth, hdr...)
	d := time.Since(start)
	if err != nil {
		if ctx.Err() == nil {
			w.recs = append(w.recs, rec{op: op, d: d, bad: true, note: err.Error()})
		}
		return nil, false
	}
	ok := res.Status == want || (want < 10 && res.Status/100 == want)
	r := rec{op: op, status: res.Status, d: d, bad: !ok}
	if !ok {
		r.note = truncate(string(res.Body), 200)
	}
	w.recs = append(w.recs, r)
	return res, ok
}

// session runs one complete hash session.
func (w *worker) session(ctx context.Context, cfg *Config, n int) bool {
	c := cfg.Client
	digests := make([]string, cfg.Hashes)
	for i := range digests {
		digests[i] = base64.StdEncoding.EncodeToString(cfg.App.Digest(n*cfg.Hashes + i))
	}
	var body any = map[string]any{"hashAlgo": "SHA256", "hashes": digests}
	if len(digests) == 1 {
		// What json.Marshal writes for {"hashAlgo", "hashBase64"}, made
		// directly: the generator shares the gateway's cores.
		body = []byte(`{"hashAlgo":"SHA256","hashBase64":"` + digests[0] + `"}`)
	}
	res, ok := w.call(ctx, c, "POST /v1/sign/hash", http.StatusCreated, http.MethodPost, "/v1/sign/hash", body, true)
	if !ok {
		return false
	}
	enc, rid, err := cfg.App.Answer(ctx, jsonString(res.Body, "deepLink"))
	if err != nil {
		w.recs = append(w.recs, rec{op: "app answer", bad: true, note: err.Error(), status: -1})
		return false
	}
	res, ok = w.call(ctx, c, "POST /v1/callback", http.StatusOK, http.MethodPost, "/v1/callback", "ss_result="+urlQueryEscape(enc), false,
		"Content-Type", "application/x-www-form-urlencoded")
	if !ok {
		return false
	}
	if st := jsonString(res.Body, "status"); st != "signed" {
		w.recs[len(w.recs)-1].bad, w.recs[len(w.recs)-1].note = true, "status "+st
		return false
	}
	w.lastReq, w.lastRes = rid, enc
	if cfg.CheckStatus {
		res, ok = w.call(ctx, c, "GET /v1/sessions/:id", http.StatusOK, http.MethodGet, "/v1/sessions/"+rid, nil, true)
		if !ok {
			return false
		}
		if st := res.Str("status"); st != "signed" {
			w.recs[len(w.recs)-1].bad, w.recs[len(w.recs)-1].note = true, "status "+st
			return false
		}
	}
	return true
}

// mixed runs one operation drawn from a fixed mix; only complete sessions
// count as completed units (sigs > 0).
func (w *worker) mixed(ctx context.Context, cfg *Config, rng *mrand.Rand, n int) (bool, int) {
	c := cfg.Client
	p := rng.IntN(100)
	switch {
	case p < 40 || w.lastReq == "":
		return w.session(ctx, cfg, n), cfg.Hashes
	case p < 55:
		res, ok := w.call(ctx, c, "GET /v1/sessions/:id", http.StatusOK, http.MethodGet, "/v1/sessions/"+w.lastReq, nil, true)
		if ok && res.Str("status") != "signed" {
			w.recs[len(w.recs)-1].bad, w.recs[len(w.recs)-1].note = true, "status "+res.Str("status")
		}
		return ok, 0
	case p < 60:
		if len(cfg.PDF) == 0 {
			return true, 0
		}
		_, ok := w.call(ctx, c, "POST /v1/verify/pdf", http.StatusOK, http.MethodPost, "/v1/verify/pdf",
			map[string]any{"pdfBase64": base64.StdEncoding.EncodeToString(cfg.PDF)}, true)
		return ok, 0
	case p < 70:
		_, ok := w.call(ctx, c, "GET /healthz", http.StatusOK, http.MethodGet, "/healthz", nil, false)
		return ok, 0
	case p < 75:
		res, ok := w.call(ctx, c, "POST /v1/callback (replay)", http.StatusOK, http.MethodPost, "/v1/callback",
			"ss_result="+urlQueryEscape(w.lastRes), false, "Content-Type", "application/x-www-form-urlencoded")
		if ok && res.Str("outcome") != "duplicate" {
			w.recs[len(w.recs)-1].bad, w.recs[len(w.recs)-1].note = true, "outcome "+res.Str("outcome")
		}
		return ok, 0
	}
	// Deliberately bad requests: each must get a 4xx, never a 5xx or a 2xx.
	bad := []struct {
		op, method, path string
		body             any
		auth             bool
		want             int
		hdr              []string
	}{
		{"bad: no key", http.MethodPost, "/v1/sign/hash", map[string]any{"hashBase64": b64(digest(n))}, false, 401, nil},
		{"bad: wrong key", http.MethodPost, "/v1/sign/hash", map[string]any{"hashBase64": b64(digest(n))}, false, 401,
			[]string{"Authorization", "Bearer ss_test_0000000000000000aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"}},
		{"bad: malformed JSON", http.MethodPost, "/v1/sign/hash", `{"hashBase64":`, true, 400, nil},
		{"bad: unknown field", http.MethodPost, "/v1/sign/hash", map[string]any{"hashBase64": b64(digest(n)), "evil": 1}, true, 400, nil},
		{"bad: short hash", http.MethodPost, "/v1/sign/hash", map[string]any{"hashBase64": b64([]byte("short"))}, true, 400, nil},
		{"bad: unknown session", http.MethodGet, "/v1/sessions/nonexistent-" + fmt.Sprint(n), nil, true, 404, nil},
		{"bad: garbage ss_result", http.MethodPost, "/v1/callback", "ss_result=%21%21not-base64", false, 4, []string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"bad: tampered ss_result", http.MethodPost, "/v1/callback", "ss_result=" + urlQueryEscape(tamper(w.lastRes)), false, 4,
			[]string{"Content-Type", "application/x-www-form-urlencoded"}},
		{"bad: not a PDF", http.MethodPost, "/v1/verify/pdf", map[string]any{"pdfBase64": b64([]byte("%PDF-1.7 garbage"))}, true, 4, nil},
	}
	b := bad[rng.IntN(len(bad))]
	_, ok := w.call(ctx, c, b.op, b.want, b.method, b.path, b.body, b.auth, b.hdr...)
	return ok, 0
}

// tamper flips one bit of the first signature of an encoded result,
// keeping it well-formed: the gateway must refuse it (409 for a completed
// request, 422 for a pending one), never accept it or fail with a 5xx.
func tamper(enc string) string {
	r, err := callback.Decode(enc)
	if err != nil {
		return enc + "x"
	}
	sig, err := base64.StdEncoding.DecodeString(r.SignatureBase64)
	if err != nil || len(sig) < 11 {
		return enc + "x"
	}
	sig[10] ^= 1
	r.SignatureBase64 = b64(sig)
	if len(r.SignaturesBase64) > 0 {
		r.SignaturesBase64[0] = r.SignatureBase64
	}
	out, err := callback.Encode(r)
	if err != nil {
		return enc + "x"
	}
	return out
}

func digest(n int) []byte {
	d := sha256.Sum256([]byte(fmt.Sprint("lg", n)))
	return d[:]
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// signHash runs one CSC authorization and signing: OTP (purpose sign,
// naming the digests) → credentials/authorize → signatures/signHash.
func (w *worker) signHash(ctx context.Context, cfg *Config) bool {
	c := cfg.Client
	cr := cfg.Credential
	hashes := make([]string, cfg.Hashes)
	for i := range hashes {
		d := make([]byte, 32)
		rand.Read(d) //nolint:errcheck
		hashes[i] = b64(d)
	}
	// The code names what it approves (protocol 1.1 §6).
	res, ok := w.call(ctx, c, "POST /v1/users/:id/otp", http.StatusCreated, http.MethodPost, "/v1/users/"+cr.UserID+"/otp",
		map[string]any{"purpose": "sign", "certificateId": cr.CertificateID, "hashes": hashes, "hashAlgo": "SHA256"}, true)
	if !ok {
		return false
	}
	otpID := res.Str("otpId")
	code, err := cfg.Outbox.Code(ctx, otpID)
	if err != nil {
		if ctx.Err() == nil {
			w.recs = append(w.recs, rec{op: "outbox", status: -1, bad: true, note: err.Error()})
		}
		return false
	}
	res, ok = w.call(ctx, c, "POST /csc/v2/credentials/authorize", http.StatusOK, http.MethodPost, "/csc/v2/credentials/authorize", map[string]any{
		"credentialID": cr.CertificateID, "numSignatures": len(hashes), "hashes": hashes, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
		"authData": []map[string]string{{"id": "otpId", "value": otpID}, {"id": "otp", "value": code}},
	}, true)
	if !ok {
		return false
	}
	sad := res.Str("SAD")
	res, ok = w.call(ctx, c, "POST /csc/v2/signatures/signHash", http.StatusOK, http.MethodPost, "/csc/v2/signatures/signHash", map[string]any{
		"credentialID": cr.CertificateID, "SAD": sad, "hashes": hashes, "hashAlgorithmOID": "2.16.840.1.101.3.4.2.1",
		"signAlgo": "1.2.840.113549.1.1.1",
	}, true)
	if !ok {
		return false
	}
	var sigs []any
	if m := res.JSON(); m != nil {
		sigs, _ = m["signatures"].([]any)
	}
	if len(sigs) != len(hashes) {
		w.recs[len(w.recs)-1].bad, w.recs[len(w.recs)-1].note = true, fmt.Sprintf("%d signatures for %d hashes", len(sigs), len(hashes))
		return false
	}
	return true
}

// jsonString returns the string member name of the JSON object body, ""
// when there is none. The gateway writes its answers flat and without HTML
// escaping, so a member without a backslash is read in place; anything
// else goes through encoding/json.
func jsonString(body []byte, name string) string {
	key := `"` + name + `":"`
	if i := bytes.Index(body, []byte(key)); i >= 0 && bytes.Count(body, []byte(key)) == 1 && bytes.Count(body, []byte{'{'}) == 1 {
		v := body[i+len(key):]
		if j := bytes.IndexByte(v, '"'); j >= 0 && bytes.IndexByte(v[:j], '\\') < 0 && json.Valid(body) {
			return string(v[:j])
		}
	}
	var m map[string]json.RawMessage
	var s string
	if json.Unmarshal(body, &m) == nil && json.Unmarshal(m[name], &s) == nil {
		return s
	}
	return ""
}

// formEscaper is the form encoding of a base64 text: only + / = need
// escaping. (A Replacer is safe for concurrent use.)
var formEscaper = strings.NewReplacer("+", "%2B", "/", "%2F", "=", "%3D")

func urlQueryEscape(s string) string { return formEscaper.Replace(s) }

// Summary writes the report as text.
func (r *Report) Summary(w io.Writer) {
	fmt.Fprintf(w, "mode %s against %s, %d workers, %.1f s measured", r.Mode, r.Target, r.Concurrency, r.Seconds)
	if r.Mode != ModeSignHash {
		fmt.Fprintf(w, ", presigned digests: %v", r.Presigned)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "completed: %d (%.1f/s)", r.Completed, r.Rate)
	if r.Signatures > 0 {
		fmt.Fprintf(w, ", signatures %d (%.1f/s)", r.Signatures, r.SigRate)
	}
	fmt.Fprintf(w, "\nlatency per unit: p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, max %.2f ms\n", r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max)
	ops := make([]string, 0, len(r.Ops))
	for op := range r.Ops {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		s := r.Ops[op]
		fmt.Fprintf(w, "  %-36s n=%-8d unexpected=%-5d p50 %.2f ms p99 %.2f ms\n", op, s.Count, s.Unexpected, s.Latency.P50, s.Latency.P99)
	}
	keys := make([]string, 0, len(r.Statuses))
	for k := range r.Statuses {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	fmt.Fprintf(w, "answers:")
	for _, k := range keys {
		fmt.Fprintf(w, " [%s]=%d", k, r.Statuses[k])
	}
	fmt.Fprintf(w, "\n5xx: %d, unexpected: %d, transport errors: %d\n", r.ServerErrors, r.Unexpected, r.TransportErrors)
	for _, s := range r.Samples {
		fmt.Fprintf(w, "  sample: %s\n", s)
	}
	fmt.Fprintf(w, "CPU per unit: gateway %.3f ms, load generator %.3f ms → %.0f units/s on 2 dedicated cores\n",
		r.GatewayCPUPerUnit, r.LoadgenCPUPerUnit, r.CapacityAt2Cores)
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "raw signer baseline (same key, this process, %d workers, %.1f s before and after): %.1f signatures/s, CPU %.3f ms per signature → %.0f/s on 2 dedicated cores\n",
			b.Concurrency, b.Seconds, b.Rate, b.CPUPerSignature, b.CapacityAt2Cores)
		fmt.Fprintf(w, "signHash (%d hash(es) per call) vs raw: rate %.0f%%, CPU capacity %.0f%% with the generator, %.0f%% gateway alone\n",
			r.Hashes, 100*r.VsBaseline.Rate, 100*r.VsBaseline.Capacity, 100*r.VsBaseline.GatewayCapacity)
	}
	mib := func(b int64) float64 { return float64(b) / (1 << 20) }
	fmt.Fprintf(w, "gateway RSS MiB: start %.1f, warm %.1f, end %.1f, settled %.1f; goroutines: start %d, warm %d, end %d, settled %d\n",
		mib(r.Start.RSSBytes), mib(r.Warm.RSSBytes), mib(r.End.RSSBytes), mib(r.Settled.RSSBytes),
		r.Start.Goroutines, r.Warm.Goroutines, r.End.Goroutines, r.Settled.Goroutines)
}
