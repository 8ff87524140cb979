// Command loadgen drives a running SecureSign gateway on this machine with
// complete signing sessions and reports throughput and latency. It stops
// by itself (--duration, --count) and refuses any target that is not a
// loopback address.
//
//	go run ./internal/loadgen -url http://127.0.0.1:8080 -data ./securesign-data -mode sessions -c 32 -d 20s
//	go run ./internal/loadgen -gateway ./securesign -mode mixed -d 30s   # starts a fresh dev gateway itself
//	go run ./internal/loadgen -gateway ./securesign -mode signhash -hsm -hashes 50 -d 15s   # CSC on a SoftHSM key vs raw signer
//
// The API key comes from the environment (SECURESIGN_API_KEY), never argv.
// The generator onboards a user and has its RSA key certified (from a CSR)
// by the gateway's own CA, so the gateway trusts the results it sends; it
// reads the codes through the dev route GET /v1/dev/otp/{otpId}, or from
// the outbox file of -data (the gateway's data directory). -url may list
// several gateways sharing one database: requests go to each in turn.
package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/securesign/securesign/internal/loadgen/lg"
	"github.com/securesign/securesign/internal/testpdf"
)

func main() {
	if os.Getenv("GOGC") == "" {
		// The generator's live heap is a few MiB: collecting it a quarter
		// as often leaves more of the cores it shares to the gateway.
		debug.SetGCPercent(400)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: loadgen (-url URL[,URL…] | -gateway BIN) [flags]\n\n"+
			"Drives a SecureSign gateway on a loopback address with complete sessions and reports\n"+
			"completed/s, p50/p90/p99 latency, answers by status, and the gateway's RSS and goroutines.\n"+
			"The API key is read from SECURESIGN_API_KEY (not needed with -gateway).\n\nflags:\n")
		fs.PrintDefaults()
	}
	var (
		target    = fs.String("url", "", "gateway base URL, loopback only (http://127.0.0.1:PORT); several gateways on one database: comma-separated, used in turn")
		data      = fs.String("data", "", "the gateway's data directory: codes from its dev OTP outbox file (default: through GET /v1/dev/otp)")
		bin       = fs.String("gateway", "", "start this securesign binary as a fresh dev gateway in a temporary directory instead of -url")
		mode      = fs.String("mode", lg.ModeSessions, "sessions, mixed or signhash")
		conc      = fs.Int("c", 16, "concurrent workers")
		dur       = fs.Duration("d", 10*time.Second, "measured duration (at most 1h)")
		warm      = fs.Duration("warmup", 2*time.Second, "load before measuring")
		count     = fs.Int64("count", 0, "stop after this many completed units (0: duration only)")
		hashes    = fs.Int("hashes", 1, "digests per session or signHash call (1-50)")
		check     = fs.Bool("check-status", false, "sessions: GET /v1/sessions/{id} after each callback")
		sticky    = fs.Bool("sticky", false, "with several -url: each worker keeps to one gateway instead of round robin per request (for comparison)")
		presign   = fs.Int("presign", 256, "digests presigned up front (0: sign each digest with RSA during the run)")
		verify    = fs.Bool("verify-links", false, "check each link's Ed25519 signature against the gateway's published keys")
		pid       = fs.Int("pid", 0, "gateway process id, for VmRSS/VmHWM from /proc")
		pdfFile   = fs.String("pdf", "", "mixed: PDF to send to /v1/verify/pdf (default: a small built-in PDF)")
		keyAlgo   = fs.String("key-algo", "RSA-2048", "signhash: algorithm of the server-held key")
		jsonOut   = fs.Bool("json", false, "print the report as JSON")
		rateLimit = fs.Int("rate-limit", 100000000, "with -gateway: the gateway's --rate-limit (requests per minute)")
		hsm       = fs.Bool("hsm", false, "signhash with -gateway: the gateway generates the server-held key on a fresh SoftHSM2 token (own SOFTHSM2_CONF in the temporary directory; --user-keys-module)")
		hsmModule = fs.String("hsm-module", lg.DefaultSoftHSMModule, "with -hsm: the SoftHSM2 PKCS#11 module")
		baseline  = fs.Duration("baseline", 6*time.Second, "with -hsm: measure the raw rate of the same key through package signer in this process, -c workers, this long, half before and half after the load (0: skip)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "loadgen: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	fail := func(err error) int { fmt.Fprintf(stderr, "loadgen: %v\n", err); return 1 }
	apiKey := getenv("SECURESIGN_API_KEY")
	if *hsm && (*bin == "" || *mode != lg.ModeSignHash) {
		return fail(errors.New("-hsm needs -gateway and -mode signhash"))
	}
	var tok *lg.SoftHSMToken
	if *bin != "" {
		if *target != "" {
			return fail(errors.New("give -url or -gateway, not both"))
		}
		dir, err := os.MkdirTemp("", "loadgen-gateway-")
		if err != nil {
			return fail(err)
		}
		defer os.RemoveAll(dir)
		var env []string
		// One user signs over and over: lift the per-user code limits.
		extra := []string{"--rate-limit", fmt.Sprint(*rateLimit), "--public-rate-limit", fmt.Sprint(*rateLimit), "--log-level", "warn", "--otp-send-limit", "1000000000", "--otp-max-unused", "1000000"}
		if *hsm {
			if tok, err = lg.NewSoftHSMToken(ctx, dir, *hsmModule, "loadgen-user-keys"); err != nil {
				return fail(err)
			}
			env, extra = tok.GatewayEnv(), append(extra, tok.GatewayFlags()...)
		}
		g, err := lg.StartGateway(ctx, *bin, dir, "127.0.0.1:0", env, extra...)
		if err != nil {
			return fail(err)
		}
		defer g.Stop() //nolint:errcheck
		*target, *data, apiKey, *pid = g.URL, dir, g.APIKey, g.PID()
		fmt.Fprintf(stderr, "loadgen: started gateway pid %d at %s (data %s)\n", g.PID(), g.URL, dir)
	}
	if *target == "" {
		return fail(errors.New("-url or -gateway is required"))
	}
	if apiKey == "" {
		return fail(errors.New("SECURESIGN_API_KEY is not set"))
	}
	c, err := lg.NewClient(*target, apiKey, *conc)
	if err != nil {
		return fail(err)
	}
	cfg := lg.Config{Mode: *mode, Client: c, Concurrency: *conc, Duration: *dur, Warmup: *warm, Count: *count,
		CheckStatus: *check, Hashes: *hashes, PID: *pid, Sticky: *sticky}
	ob := lg.NewRouteOutbox(c) // codes through GET /v1/dev/otp: any gateway on the database answers
	if *data != "" {
		ob = lg.NewOutbox(*data)
	}
	tag := fmt.Sprintf("loadgen-%d", time.Now().UnixNano())
	switch *mode {
	case lg.ModeSessions, lg.ModeMixed:
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return fail(err)
		}
		id, err := lg.IssueCSR(ctx, c, ob, tag, key)
		if err != nil {
			return fail(fmt.Errorf("certifying the load key: %w", err))
		}
		app, err := lg.NewApp(ctx, id, *presign)
		if err != nil {
			return fail(err)
		}
		if *verify {
			if app.Keys, err = lg.LinkKeys(ctx, c); err != nil {
				return fail(err)
			}
		}
		cfg.App = app
		if *mode == lg.ModeMixed {
			cfg.PDF = testpdf.Minimal("loadgen")
			if *pdfFile != "" {
				if cfg.PDF, err = os.ReadFile(*pdfFile); err != nil {
					return fail(err)
				}
			}
		}
	case lg.ModeSignHash:
		cr, err := lg.IssueServerKey(ctx, c, ob, tag, *keyAlgo)
		if err != nil {
			return fail(fmt.Errorf("issuing a server-held key: %w", err))
		}
		cfg.Outbox, cfg.Credential = ob, cr
	}
	var base *lg.Baseline
	if tok != nil && *baseline > 0 {
		// This process's module must find the gateway's token.
		if err := os.Setenv("SOFTHSM2_CONF", tok.Conf); err != nil {
			return fail(err)
		}
		fmt.Fprintf(stderr, "loadgen: raw signer baseline on the token for %v\n", *baseline/2)
		if base, err = lg.SignerBaseline(ctx, tok, cfg.Credential.Certificate.SerialNumber, *conc, *baseline/2); err != nil {
			return fail(err)
		}
	}
	rep, err := lg.Run(ctx, cfg)
	if err != nil {
		return fail(err)
	}
	if base != nil {
		fmt.Fprintf(stderr, "loadgen: raw signer baseline on the token for %v\n", *baseline/2)
		after, err := lg.SignerBaseline(ctx, tok, cfg.Credential.Certificate.SerialNumber, *conc, *baseline/2)
		if err != nil {
			return fail(err)
		}
		base.Merge(after)
		rep.CompareBaseline(base)
	}
	if *jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fail(err)
		}
	} else {
		rep.Summary(stdout)
	}
	if rep.ServerErrors > 0 || rep.Unexpected > 0 {
		return 1
	}
	return 0
}
