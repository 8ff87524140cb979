package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Config is the gateway's configuration. Every field has a flag and an
// environment variable (see README.md); zero values take the defaults of
// [Config.withDefaults].
type Config struct {
	// Listen is the TCP address to serve on ("127.0.0.1:8080"; port 0 picks one).
	Listen string
	// PublicURL is the gateway's base URL as browsers and signing apps
	// reach it ("https://sign.example.in"). Empty: derived from the listener
	// (http://HOST:PORT), which suits development only.
	PublicURL string
	// DataDir holds the SQLite database, prepared and signed PDFs, the
	// master key file (dev) and the dev OTP outbox.
	DataDir string
	// PostgresDSN selects PostgreSQL instead of SQLite.
	PostgresDSN string
	// Dev enables development mode: test tenant, loopback origins, OTP
	// outbox file. Never in production.
	Dev bool
	// TLSCertFile and TLSKeyFile serve HTTPS directly.
	TLSCertFile, TLSKeyFile string
	// TrustedProxies are CIDRs whose X-Forwarded-For/-Proto are believed.
	TrustedProxies []string
	// TrustFiles are PEM trust anchors for certificates signing apps return
	// (the gateway's own CA is always trusted).
	TrustFiles []string
	// TenantTrust are PEM trust anchors usable only by the listed tenants'
	// sessions (TrustFiles are usable by every tenant).
	TenantTrust []TenantTrust
	// TenantProfiles narrows, per tenant id, the certificate profiles the
	// API issues to that tenant (each one of APIProfiles). A tenant named
	// here ignores the admin command's setting (tenant-profiles); the
	// others follow it. No API call can change either.
	TenantProfiles map[string][]string
	// TSATrustFiles are PEM anchors of outside time-stamping authorities
	// whose timestamps validation believes. The gateway's own
	// time-stamping unit is always believed; no other certificate under
	// the gateway's CA or under TrustFiles is.
	TSATrustFiles []string
	// MasterKey (at least 16 bytes) encrypts server-held keys and the link
	// keys at rest. Dev mode creates <data>/master.key when empty.
	MasterKey []byte
	// Revocation is the OCSP/CRL policy for certificates that signing apps
	// return and that validation calls check: "soft" (default: unknown
	// passes), "hard" (unknown fails) or "off".
	Revocation string
	// CAPKCS11 puts the issuing CA's key on a PKCS#11 token instead of the
	// software key store: the token holds the key and the issuing CA
	// certificate; CAChainFile has the certificates above it (PEM, up to
	// the root) unless the token carries them.
	CAPKCS11 *PKCS11Key
	// CAChainFile is the PEM chain above a PKCS#11 CA certificate.
	CAChainFile string
	// UserKeysPKCS11 puts the keys of certificates issued without a CSR
	// on a PKCS#11 token (an HSM) instead of the software key store: they
	// are generated there, sensitive and non-extractable, under a random
	// CKA_ID, and the certificate is stored next to the key. KeyLabel is
	// not used. Keys made in the software key store before keep working.
	// The gateway does not start when the token is missing or the PIN is
	// wrong.
	UserKeysPKCS11 *PKCS11Key
	// CAName is the common name of the CA created on first start.
	CAName string

	MaxBodyBytes int64 // largest PDF accepted, default 50 MiB
	MaxJSONBytes int64 // largest body of other calls, default 1 MiB
	MaxBatch     int   // PDFs per batch, or digests per server-key call, default 50 (at most 50)
	// MaxDigests is the most digests a token sign request (sign/hash,
	// sign/batch) takes; more than one link holds are split over several
	// links (protocol §1.2). Default 200, at most 1000.
	MaxDigests      int
	MaxOpenSessions int           // pending sessions per tenant, default 10000
	SessionTTL      time.Duration // link lifetime, default 10 min (at most 15)
	TokenTTL        time.Duration // access token lifetime, default 15 min
	OTPTTL          time.Duration // default 10 min
	OTPMaxAttempts  int           // default 5
	OTPMaxUnused    int           // unused codes a user holds at a time, default 3
	OTPSendLimit    int           // codes sent to a user per OTPSendWindow, default 10
	OTPSendWindow   time.Duration // default 1 h
	SADTTL          time.Duration // CSC authorization lifetime, default 5 min
	RateLimitRPM    int           // requests per minute per API key, default 6000
	ShutdownTimeout time.Duration // default 20 s

	// MemoryLimit is the memory the gateway may use, in bytes; it sizes
	// the concurrent PDF work (MaxPDFJobs). Zero: the runtime's limit
	// (GOMEMLIMIT; the CLI sets 1 GiB when it is unset), else 1 GiB.
	MemoryLimit int64
	// MaxPDFJobs bounds PDF work in flight (sign, prepare, finish,
	// verify); zero derives it from MemoryLimit: (MemoryLimit - 128 MiB) / 96 MiB.
	MaxPDFJobs int
	// PDFQueueWait is how long a PDF request waits for a free slot before
	// it gets 503 with Retry-After (default 5 s; negative: no wait); at
	// most MaxPDFJobs requests wait at once.
	PDFQueueWait time.Duration
	// PublicReadTimeout is the time to send request headers, and the
	// body of unauthenticated calls (callback, OCSP, TSA); default 10 s.
	PublicReadTimeout time.Duration
	// ReadTimeout is the time an authenticated call has to send its body
	// (default 30 s); PDF uploads get MaxBodyBytes at MinUploadRate more.
	ReadTimeout time.Duration
	// MinUploadRate is the slowest upload accepted, bytes per second
	// (default 256 KiB/s: a 50 MiB PDF has some 4.5 minutes).
	MinUploadRate int64
	// MaxConnsPerAddr caps the open connections of one client address
	// (default 128); trusted proxies are exempt.
	MaxConnsPerAddr int
	// PublicRateLimitRPM limits the unauthenticated endpoints per client
	// address, requests per minute (default 600).
	PublicRateLimitRPM int
	// MetricsToken, when set, lets /metrics answer a bearer token on the
	// main listener; without it /metrics is served only by
	// [Server.MetricsHandler] (an admin listener), or in dev mode.
	MetricsToken string
	// Retention is how long signed documents and session payloads are
	// kept (default 30 days; negative: forever). Audit entries stay.
	Retention time.Duration
	// PackageOnPortalLinks names the signing package in every PDF
	// session's link on a portal's own origin (its own callbackUrl), not
	// only when the link's digests do not fit it (protocol 1.2 §6.6). Turn
	// it on once the signing apps of the tenants' users take packages from
	// this gateway's origin (the Desktop Software's packageOrigins, the
	// mobile app's --package-origin): an app that does not refuses such a
	// link (SS_LINK_INVALID, nothing signed).
	PackageOnPortalLinks bool

	// Logger receives JSON logs; nil means slog to stderr.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// OTPSender delivers codes; nil means the dev outbox in dev mode and
	// an error otherwise.
	OTPSender OTPSender
}

func (c Config) withDefaults() (Config, error) {
	if c.Listen == "" {
		c.Listen = "127.0.0.1:8080"
	}
	if c.DataDir == "" {
		c.DataDir = "securesign-data"
	}
	if c.CAName == "" {
		c.CAName = "SecureSign Gateway CA"
		if c.Dev {
			c.CAName = "SecureSign Dev CA"
		}
	}
	def64 := func(p *int64, v int64) {
		if *p <= 0 {
			*p = v
		}
	}
	defInt := func(p *int, v int) {
		if *p <= 0 {
			*p = v
		}
	}
	defDur := func(p *time.Duration, v time.Duration) {
		if *p <= 0 {
			*p = v
		}
	}
	def64(&c.MaxBodyBytes, 50<<20)
	def64(&c.MaxJSONBytes, 1<<20)
	defInt(&c.MaxBatch, 50)
	defInt(&c.MaxDigests, 200)
	defInt(&c.MaxOpenSessions, 10000)
	defDur(&c.SessionTTL, 10*time.Minute)
	defDur(&c.TokenTTL, 15*time.Minute)
	defDur(&c.OTPTTL, 10*time.Minute)
	defInt(&c.OTPMaxAttempts, 5)
	defInt(&c.OTPMaxUnused, 3)
	defInt(&c.OTPSendLimit, 10)
	defDur(&c.OTPSendWindow, time.Hour)
	defDur(&c.SADTTL, 5*time.Minute)
	defInt(&c.RateLimitRPM, 6000)
	defDur(&c.ShutdownTimeout, 20*time.Second)
	if c.PDFQueueWait == 0 {
		c.PDFQueueWait = 5 * time.Second
	}
	defDur(&c.PublicReadTimeout, 10*time.Second)
	defDur(&c.ReadTimeout, 30*time.Second)
	def64(&c.MinUploadRate, 256<<10)
	defInt(&c.MaxConnsPerAddr, 128)
	defInt(&c.PublicRateLimitRPM, 600)
	if c.Retention == 0 {
		c.Retention = 30 * 24 * time.Hour
	}
	if c.SessionTTL > 15*time.Minute {
		return c, errors.New("gateway: session TTL above the protocol's 15 minutes")
	}
	if c.MaxBatch > 50 {
		return c, fmt.Errorf("gateway: batch limit %d above the protocol's 50", c.MaxBatch)
	}
	if c.MaxDigests > 1000 {
		return c, fmt.Errorf("gateway: digest limit %d above 1000", c.MaxDigests)
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		return c, errors.New("gateway: TLS needs both a certificate and a key file")
	}
	switch c.Revocation {
	case "":
		c.Revocation = "soft"
	case "soft", "hard", "off":
	default:
		return c, fmt.Errorf("gateway: revocation policy %q is not soft, hard or off", c.Revocation)
	}
	for tid, ps := range c.TenantProfiles {
		for _, p := range ps {
			if !slices.Contains(APIProfiles, p) {
				return c, fmt.Errorf("gateway: tenant %s: profile %q is not one the API may issue (%v)", tid, p, APIProfiles)
			}
		}
	}
	if p := c.UserKeysPKCS11; p != nil && (p.Module == "" || p.TokenLabel == "") {
		return c, errors.New("gateway: the user-key token needs a PKCS#11 module and a token label")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c, nil
}

// TenantTrust is a trust anchor file for some tenants only.
type TenantTrust struct {
	File    string
	Tenants []string
}

// PKCS11Key names a key on a PKCS#11 token.
type PKCS11Key struct {
	Module     string // path of the PKCS#11 library
	TokenLabel string
	KeyLabel   string // CKA_LABEL of the private key; "" = the only key with a certificate
	PIN        []byte // user PIN; from the environment, never argv
}
