//go:build !signonly

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/securesign/securesign/adapters/gateway"
)

// gatewayFlags are the server's settings: every flag also has an
// environment variable (flags win). adapters/gateway/README.md has the table.
type gatewayFlags struct {
	dev, newKey, pkgOnPortalLinks    bool
	listen, data, publicURL          string
	tlsCert, tlsKey, masterKeyFile   string
	revocation, logLevel, caName     string
	caModule, caToken, caKey, caPEM  string
	userModule, userToken            string
	proxies, trust, trustFor         multiFlag
	tsaTrust                         multiFlag
	maxBody                          int64
	rateRPM, otpAttempts, maxBatch   int
	maxDigests                       int
	otpSendLimit, otpMaxUnused       int
	sessionTTL, tokenTTL, shutdownTO time.Duration

	memoryMiB, pdfJobs, publicRPM, connsPerAddr int
	minUploadKiB                                int64
	pdfWait, publicRead, readTO, retention      time.Duration
	adminListen                                 string
}

func envOr(e *env, name, def string) string {
	if v := e.getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(e *env, name string, def int) int {
	if v, err := strconv.Atoi(e.getenv(name)); err == nil {
		return v
	}
	return def
}

func envDur(e *env, name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(e.getenv(name)); err == nil {
		return v
	}
	return def
}

func envBool(e *env, name string) bool {
	v, _ := strconv.ParseBool(e.getenv(name))
	return v
}

func envList(e *env, name string) multiFlag {
	var out multiFlag
	for _, v := range strings.Split(e.getenv(name), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

// storeFlags registers the flags that select the database.
func storeFlags(fs *flag.FlagSet, e *env, data *string) {
	fs.StringVar(data, "data", envOr(e, "SECURESIGN_DATA", "securesign-data"), "data directory: SQLite database, PDFs, dev files (env SECURESIGN_DATA)")
}

func runGateway(ctx context.Context, e *env, args []string) int {
	if len(args) > 0 && args[0] == "admin" {
		return runGatewayAdmin(ctx, e, args[1:])
	}
	var f gatewayFlags
	fs := newFlagSet(e, "gateway", "gateway [--dev] [--data DIR] [--listen HOST:PORT] [flags]\n       securesign gateway admin <subcommand> [flags]\n\nThe PostgreSQL DSN and the master key come from the environment only:\nSECURESIGN_POSTGRES_DSN, SECURESIGN_MASTER_KEY (hex or base64), or --master-key-file;\nso do the token PINs: SECURESIGN_CA_PIN, SECURESIGN_USER_KEYS_PIN.\n\nflags:")
	fs.BoolVar(&f.dev, "dev", false, "development mode: test tenant and key, loopback origins, OTP outbox file, dev master key")
	fs.BoolVar(&f.newKey, "new-key", false, "dev mode: print a new test API key even when the dev tenant exists")
	fs.StringVar(&f.listen, "listen", envOr(e, "SECURESIGN_LISTEN", "127.0.0.1:8080"), "address to listen on; port 0 picks a free port (env SECURESIGN_LISTEN)")
	storeFlags(fs, e, &f.data)
	fs.StringVar(&f.publicURL, "public-url", e.getenv("SECURESIGN_PUBLIC_URL"), "base URL apps and browsers reach the gateway at; default http://LISTEN-ADDRESS (env SECURESIGN_PUBLIC_URL)")
	fs.StringVar(&f.tlsCert, "tls-cert", e.getenv("SECURESIGN_TLS_CERT"), "TLS certificate chain PEM file (env SECURESIGN_TLS_CERT)")
	fs.StringVar(&f.tlsKey, "tls-key", e.getenv("SECURESIGN_TLS_KEY"), "TLS private key PEM file (env SECURESIGN_TLS_KEY)")
	fs.StringVar(&f.masterKeyFile, "master-key-file", e.getenv("SECURESIGN_MASTER_KEY_FILE"), "file holding the master key, hex or base64 (env SECURESIGN_MASTER_KEY_FILE)")
	fs.StringVar(&f.revocation, "revocation", envOr(e, "SECURESIGN_REVOCATION", "soft"), "OCSP/CRL policy for returned certificates: soft, hard or off (env SECURESIGN_REVOCATION)")
	fs.StringVar(&f.logLevel, "log-level", envOr(e, "SECURESIGN_LOG_LEVEL", "info"), "debug, info, warn or error (env SECURESIGN_LOG_LEVEL)")
	fs.StringVar(&f.caName, "ca-name", e.getenv("SECURESIGN_CA_NAME"), "common name of the CA created on first start (env SECURESIGN_CA_NAME)")
	// The token flags use the names every other command uses for the same
	// things (--module, --token-label, --key-label), prefixed by whose key
	// it is; the old names and variables still work.
	fs.StringVar(&f.caModule, "ca-module", envOr(e, "SECURESIGN_CA_MODULE", e.getenv("SECURESIGN_CA_PKCS11_MODULE")), "PKCS#11 module holding the issuing CA key; PIN from SECURESIGN_CA_PIN (env SECURESIGN_CA_MODULE)")
	alias(fs, "ca-pkcs11-module", "ca-module")
	fs.StringVar(&f.caToken, "ca-token-label", envOr(e, "SECURESIGN_CA_TOKEN_LABEL", e.getenv("SECURESIGN_CA_TOKEN")), "label of the token with the CA key (env SECURESIGN_CA_TOKEN_LABEL)")
	alias(fs, "ca-token", "ca-token-label")
	fs.StringVar(&f.caKey, "ca-key-label", e.getenv("SECURESIGN_CA_KEY_LABEL"), "CKA_LABEL of the CA private key (env SECURESIGN_CA_KEY_LABEL)")
	fs.StringVar(&f.caPEM, "ca-chain", e.getenv("SECURESIGN_CA_CHAIN"), "PEM file with the certificates above the token's CA certificate, up to the root (env SECURESIGN_CA_CHAIN)")
	fs.StringVar(&f.userModule, "user-keys-module", envOr(e, "SECURESIGN_USER_KEYS_MODULE", e.getenv("SECURESIGN_USER_KEYS_PKCS11_MODULE")), "PKCS#11 module of the HSM that generates and holds server-held user keys; PIN from SECURESIGN_USER_KEYS_PIN (env SECURESIGN_USER_KEYS_MODULE)")
	alias(fs, "user-keys-pkcs11-module", "user-keys-module")
	fs.StringVar(&f.userToken, "user-keys-token-label", envOr(e, "SECURESIGN_USER_KEYS_TOKEN_LABEL", e.getenv("SECURESIGN_USER_KEYS_TOKEN")), "label of the token for server-held user keys (env SECURESIGN_USER_KEYS_TOKEN_LABEL)")
	alias(fs, "user-keys-token", "user-keys-token-label")
	f.proxies, f.trust = envList(e, "SECURESIGN_TRUSTED_PROXIES"), envList(e, "SECURESIGN_TRUST")
	fs.Var(&f.proxies, "trusted-proxy", "CIDR of a reverse proxy whose X-Forwarded-For is believed; repeatable (env SECURESIGN_TRUSTED_PROXIES, comma-separated)")
	fs.Var(&f.trust, "trust", "PEM trust anchors for returned certificates (e.g. CCA India roots), usable by every tenant; repeatable (env SECURESIGN_TRUST)")
	fs.Var(&f.trustFor, "trust-for", "TENANT[,TENANT...]=FILE: PEM trust anchors usable only by the listed tenants' sessions; repeatable")
	fs.Var(&f.tsaTrust, "tsa-trust", "PEM anchors of outside time-stamping authorities whose timestamps validation believes (the gateway's own TSA always counts); repeatable")
	fs.Int64Var(&f.maxBody, "max-body", int64(envInt(e, "SECURESIGN_MAX_BODY", 50<<20)), "largest PDF accepted, bytes (env SECURESIGN_MAX_BODY)")
	fs.IntVar(&f.rateRPM, "rate-limit", envInt(e, "SECURESIGN_RATE_LIMIT_RPM", 6000), "requests per minute per API key (env SECURESIGN_RATE_LIMIT_RPM)")
	fs.IntVar(&f.otpMaxUnused, "otp-max-unused", envInt(e, "SECURESIGN_OTP_MAX_UNUSED", 3), "unused one-time codes one user may hold at a time (env SECURESIGN_OTP_MAX_UNUSED)")
	fs.IntVar(&f.otpSendLimit, "otp-send-limit", envInt(e, "SECURESIGN_OTP_SEND_LIMIT", 10), "one-time codes sent to one user per hour (env SECURESIGN_OTP_SEND_LIMIT)")
	fs.IntVar(&f.otpAttempts, "otp-attempts", envInt(e, "SECURESIGN_OTP_ATTEMPTS", 5), "wrong OTP entries before the OTP locks (env SECURESIGN_OTP_ATTEMPTS)")
	fs.IntVar(&f.maxBatch, "max-batch", envInt(e, "SECURESIGN_MAX_BATCH", 50), "PDFs per batch, or digests per server-key call, at most 50 (env SECURESIGN_MAX_BATCH)")
	fs.IntVar(&f.maxDigests, "max-digests", envInt(e, "SECURESIGN_MAX_DIGESTS", 200), "digests per token sign request, split over links of at most 50 digests and 2048 bytes; at most 1000 (env SECURESIGN_MAX_DIGESTS)")
	fs.BoolVar(&f.pkgOnPortalLinks, "package-on-portal-links", envBool(e, "SECURESIGN_PACKAGE_ON_PORTAL_LINKS"), "name the signing package in every PDF link on a portal's own origin, not only when its digests do not fit; only once the users' apps take packages from this gateway's origin (env SECURESIGN_PACKAGE_ON_PORTAL_LINKS)")
	fs.DurationVar(&f.sessionTTL, "session-ttl", envDur(e, "SECURESIGN_SESSION_TTL", 10*time.Minute), "deep-link lifetime, at most 15m (env SECURESIGN_SESSION_TTL)")
	fs.DurationVar(&f.tokenTTL, "token-ttl", envDur(e, "SECURESIGN_TOKEN_TTL", 15*time.Minute), "access token lifetime (env SECURESIGN_TOKEN_TTL)")
	fs.DurationVar(&f.shutdownTO, "shutdown-timeout", envDur(e, "SECURESIGN_SHUTDOWN_TIMEOUT", 20*time.Second), "grace period for in-flight requests on SIGTERM (env SECURESIGN_SHUTDOWN_TIMEOUT)")
	fs.IntVar(&f.memoryMiB, "memory-limit", envInt(e, "SECURESIGN_MEMORY_LIMIT_MIB", 1024), "memory the gateway may use, MiB: sizes the PDF work, and 90% of it is the Go runtime's soft limit unless GOMEMLIMIT is set (env SECURESIGN_MEMORY_LIMIT_MIB)")
	fs.IntVar(&f.pdfJobs, "pdf-jobs", envInt(e, "SECURESIGN_PDF_JOBS", 0), "concurrent PDF jobs (sign, prepare, finish, verify); 0 = (memory limit - 128 MiB) / 96 MiB (env SECURESIGN_PDF_JOBS)")
	fs.DurationVar(&f.pdfWait, "pdf-queue-wait", envDur(e, "SECURESIGN_PDF_QUEUE_WAIT", 5*time.Second), "how long a PDF request waits for a free job before 503; negative = no wait (env SECURESIGN_PDF_QUEUE_WAIT)")
	fs.DurationVar(&f.publicRead, "public-read-timeout", envDur(e, "SECURESIGN_PUBLIC_READ_TIMEOUT", 10*time.Second), "time to send headers, and the body of unauthenticated calls (env SECURESIGN_PUBLIC_READ_TIMEOUT)")
	fs.DurationVar(&f.readTO, "read-timeout", envDur(e, "SECURESIGN_READ_TIMEOUT", 30*time.Second), "time an authenticated call has to send its body; PDF uploads get more (env SECURESIGN_READ_TIMEOUT)")
	fs.Int64Var(&f.minUploadKiB, "min-upload-rate", int64(envInt(e, "SECURESIGN_MIN_UPLOAD_RATE_KIB", 256)), "slowest PDF upload accepted, KiB/s: sets the upload read deadline (env SECURESIGN_MIN_UPLOAD_RATE_KIB)")
	fs.IntVar(&f.connsPerAddr, "max-conns-per-addr", envInt(e, "SECURESIGN_MAX_CONNS_PER_ADDR", 128), "open connections per client address; trusted proxies exempt (env SECURESIGN_MAX_CONNS_PER_ADDR)")
	fs.IntVar(&f.publicRPM, "public-rate-limit", envInt(e, "SECURESIGN_PUBLIC_RATE_LIMIT_RPM", 600), "requests per minute per client address to callback, OCSP, TSA and CSC info (env SECURESIGN_PUBLIC_RATE_LIMIT_RPM)")
	fs.StringVar(&f.adminListen, "admin-listen", e.getenv("SECURESIGN_ADMIN_LISTEN"), "address of an admin listener serving /metrics without a token (env SECURESIGN_ADMIN_LISTEN); or set SECURESIGN_METRICS_TOKEN for /metrics with a bearer token")
	fs.DurationVar(&f.retention, "retention", envDur(e, "SECURESIGN_RETENTION", 30*24*time.Hour), "how long signed PDFs and session payloads are kept; audit entries stay; negative = forever (env SECURESIGN_RETENTION)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(e.stderr, "securesign gateway: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fail(e, "gateway", fmt.Errorf("--log-level: %w", err))
	}
	log := slog.New(slog.NewJSONHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	master, err := masterKey(e, f.masterKeyFile)
	if err != nil {
		return fail(e, "gateway", err)
	}
	if master == nil && !f.dev {
		return fail(e, "gateway", errors.New("a master key is required outside --dev: set SECURESIGN_MASTER_KEY or --master-key-file"))
	}
	cfg := gateway.Config{
		Listen: f.listen, PublicURL: f.publicURL, DataDir: f.data, PostgresDSN: e.getenv("SECURESIGN_POSTGRES_DSN"), Dev: f.dev,
		TLSCertFile: f.tlsCert, TLSKeyFile: f.tlsKey, TrustedProxies: f.proxies, TrustFiles: f.trust, TSATrustFiles: f.tsaTrust, MasterKey: master,
		Revocation: f.revocation, CAName: f.caName, MaxBodyBytes: f.maxBody, MaxBatch: f.maxBatch, MaxDigests: f.maxDigests, SessionTTL: f.sessionTTL,
		TokenTTL: f.tokenTTL, OTPMaxAttempts: f.otpAttempts, OTPSendLimit: f.otpSendLimit, OTPMaxUnused: f.otpMaxUnused, RateLimitRPM: f.rateRPM, ShutdownTimeout: f.shutdownTO, Logger: log,
		MemoryLimit: int64(f.memoryMiB) << 20, MaxPDFJobs: f.pdfJobs, PDFQueueWait: f.pdfWait, PublicReadTimeout: f.publicRead,
		ReadTimeout: f.readTO, MinUploadRate: f.minUploadKiB << 10, MaxConnsPerAddr: f.connsPerAddr, PublicRateLimitRPM: f.publicRPM,
		MetricsToken: e.getenv("SECURESIGN_METRICS_TOKEN"), Retention: f.retention, PackageOnPortalLinks: f.pkgOnPortalLinks,
	}
	for _, tf := range f.trustFor {
		tenants, file, ok := strings.Cut(tf, "=")
		if !ok || file == "" || tenants == "" {
			return fail(e, "gateway", fmt.Errorf("--trust-for %q: want TENANT[,TENANT...]=FILE", tf))
		}
		cfg.TenantTrust = append(cfg.TenantTrust, gateway.TenantTrust{File: file, Tenants: strings.Split(tenants, ",")})
	}
	if f.memoryMiB <= 0 {
		return fail(e, "gateway", errors.New("--memory-limit must be positive"))
	}
	if e.getenv("GOMEMLIMIT") == "" {
		// The runtime's limit is soft and counts Go memory only (not
		// SQLite's mappings, not the slack the scavenger has yet to
		// return): 90% of the budget keeps the RSS under the budget.
		debug.SetMemoryLimit(cfg.MemoryLimit / 10 * 9)
	} else {
		cfg.MemoryLimit = 0 // sized from GOMEMLIMIT
	}
	if f.caModule != "" {
		pin, err := secretFromEnv(e, "SECURESIGN_CA_PIN")
		if err != nil {
			return fail(e, "gateway", fmt.Errorf("CA token PIN: %w", err))
		}
		cfg.CAPKCS11 = &gateway.PKCS11Key{Module: f.caModule, TokenLabel: f.caToken, KeyLabel: f.caKey, PIN: []byte(pin)}
		cfg.CAChainFile = f.caPEM
	}
	if f.userModule != "" || f.userToken != "" {
		if f.userModule == "" || f.userToken == "" {
			return fail(e, "gateway", errors.New("--user-keys-module and --user-keys-token-label go together"))
		}
		pin, err := secretFromEnv(e, "SECURESIGN_USER_KEYS_PIN")
		if err != nil {
			return fail(e, "gateway", fmt.Errorf("user-key token PIN: %w", err))
		}
		cfg.UserKeysPKCS11 = &gateway.PKCS11Key{Module: f.userModule, TokenLabel: f.userToken, PIN: []byte(pin)}
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fail(e, "gateway", err)
	}
	defer ln.Close()
	if f.dev {
		if a := ln.Addr().(*net.TCPAddr); !a.IP.IsLoopback() {
			return fail(e, "gateway", fmt.Errorf("--dev serves one-time codes over HTTP: listen on a loopback address (127.0.0.1:PORT), not %s", a))
		}
	}
	scheme := "http"
	if f.tlsCert != "" {
		scheme = "https"
	}
	addr := ln.Addr().(*net.TCPAddr)
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = "127.0.0.1"
	}
	local := scheme + "://" + net.JoinHostPort(host, strconv.Itoa(addr.Port))
	if cfg.PublicURL == "" {
		cfg.PublicURL = local
		if !f.dev {
			log.Warn("no --public-url: links and certificates will point to the listen address", "url", local)
		}
	}
	if e.getenv("GOGC") == "" {
		// The live heap is small (PDFs are spooled to disk, caches are
		// bounded) and every request allocates: a heap goal of 5x the live
		// heap, not 2x, takes about a tenth off the CPU per session for
		// some 15 MiB more RSS under load. GOGC (and GOMEMLIMIT) in the
		// environment still rule.
		debug.SetGCPercent(400)
	}
	srv, err := gateway.New(ctx, cfg)
	if err != nil {
		return fail(e, "gateway", err)
	}
	defer srv.Close()
	if f.dev {
		fmt.Fprintf(e.stdout, "securesign gateway: development mode, data in %s\n", f.data)
		key, err := gateway.EnsureDevTenant(ctx, srv.Store(), time.Now(), f.newKey)
		if err != nil {
			return fail(e, "gateway", err)
		}
		if key != "" {
			fmt.Fprintf(e.stdout, "api key: %s\n", key)
		} else {
			fmt.Fprintf(e.stdout, "dev tenant %q exists: its API key was shown when it was created (run with --new-key for another, or press \"New dev key\" in the demo console)\n", gateway.DevTenantID)
		}
		fmt.Fprintf(e.stdout, "OTP outbox: %s\n", filepath.Join(f.data, "dev-otp-outbox.jsonl"))
	}
	if f.adminListen != "" {
		aln, err := net.Listen("tcp", f.adminListen)
		if err != nil {
			return fail(e, "gateway", fmt.Errorf("--admin-listen: %w", err))
		}
		defer aln.Close()
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", srv.MetricsHandler())
		as := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go as.Serve(aln) //nolint:errcheck
		defer as.Close()
		fmt.Fprintf(e.stdout, "admin listener (/metrics) on %s\n", aln.Addr())
	}
	fmt.Fprintf(e.stdout, "listening on %s\n", local)
	if f.dev {
		fmt.Fprintf(e.stdout, "demo console: %s/\n", local)
	}
	if err := srv.Serve(ctx, ln); err != nil && ctx.Err() == nil {
		return fail(e, "gateway", err)
	}
	fmt.Fprintln(e.stdout, "stopped")
	return 0
}

// masterKey reads the master key from SECURESIGN_MASTER_KEY or a file; nil
// when neither is given.
func masterKey(e *env, file string) ([]byte, error) {
	if v := e.getenv("SECURESIGN_MASTER_KEY"); v != "" {
		return gateway.ParseMasterKey(v)
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return gateway.ParseMasterKey(string(b))
	}
	return nil, nil
}
