package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is everything the gateway keeps: tenants and their credentials,
// users, one-time codes, signing sessions, certificates, idempotency records,
// the audit log and the link-signing keys. [OpenSQLite] and [OpenPostgres]
// implement it on the same SQL; one test suite holds both.
//
// Methods scoped by tenant answer [ErrNotFound] for another tenant's ids.
// Secrets (API keys, tokens, OTPs, SADs) are only ever stored as hashes.
type Store interface {
	// Ping reports whether the database answers (readiness).
	Ping(ctx context.Context) error
	Close() error

	CreateTenant(ctx context.Context, t *Tenant) error
	Tenant(ctx context.Context, id string) (*Tenant, error)
	Tenants(ctx context.Context) ([]*Tenant, error)
	SetTenantDisabled(ctx context.Context, id string, disabled bool) error

	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKey returns the key with the public id; the caller compares the
	// secret's hash in constant time.
	APIKey(ctx context.Context, id string) (*APIKey, error)
	APIKeys(ctx context.Context, tenantID string) ([]*APIKey, error)
	RevokeAPIKey(ctx context.Context, tenantID, id string, at time.Time) error

	CreateAccessToken(ctx context.Context, t *AccessToken) error
	AccessToken(ctx context.Context, id string) (*AccessToken, error)

	AddOrigin(ctx context.Context, tenantID, origin string) error
	RemoveOrigin(ctx context.Context, tenantID, origin string) error
	Origins(ctx context.Context, tenantID string) ([]string, error)

	CreateUser(ctx context.Context, u *User) error
	User(ctx context.Context, tenantID, id string) (*User, error)
	UserByExternalID(ctx context.Context, tenantID, externalID string) (*User, error)
	// UpdateUser stores u's name, e-mail, phone and subject.
	UpdateUser(ctx context.Context, u *User) error

	// CreateOTP stores o unless the user already holds lim.MaxUnused
	// codes that are neither used, expired nor locked, or was sent
	// lim.MaxSent codes since now-lim.Window: then an *OTPLimitError
	// (errors.Is ErrOTPLimit). The count and the insert are atomic.
	CreateOTP(ctx context.Context, o *OTP, lim OTPLimits, now time.Time) error
	// OTP returns the code otpID of userID for purpose.
	OTP(ctx context.Context, tenantID, userID, otpID, purpose string) (*OTP, error)
	// LatestOTP returns userID's newest code for purpose that is neither
	// used nor expired at now (CSC: the code of the last sendOTP).
	LatestOTP(ctx context.Context, tenantID, userID, purpose string, now time.Time) (*OTP, error)
	// FailOTP counts a wrong code (atomically, so concurrent guesses cannot
	// skip it) and reports whether the code is now locked.
	FailOTP(ctx context.Context, otpID string, maxAttempts int) (locked bool, err error)
	// SpendOTP marks the code used if it is still unused and unlocked
	// (compare and set); ErrOTPUsed if another request spent it first.
	SpendOTP(ctx context.Context, otpID string, now time.Time, maxAttempts int) error

	// CreateSession stores a new session and, when audit is not nil, its
	// audit entry in the same transaction.
	CreateSession(ctx context.Context, s *Session, audit *AuditEntry) error
	// Session returns a tenant's session.
	Session(ctx context.Context, tenantID, requestID string) (*Session, error)
	// SessionByID returns a session whatever its tenant (the public callback).
	SessionByID(ctx context.Context, requestID string) (*Session, error)
	// CompleteSession stores c if the session is still pending, or if it
	// is failed and c is a success (compare and set; PROTOCOL 1.1 §3: a
	// failure does not complete a session). It returns the completion now
	// stored and whether c won. When c wins and audit is not nil, audit is appended in the same transaction
	// (a crash leaves both or neither); a losing c appends nothing.
	CompleteSession(ctx context.Context, requestID string, c *Completion, audit *AuditEntry) (stored *Completion, won bool, err error)
	// SetSessionOutput records what the gateway produced after completion
	// (the signed PDF's file names).
	SetSessionOutput(ctx context.Context, requestID string, output []byte) error
	CountPendingSessions(ctx context.Context, tenantID string, now time.Time) (int, error)

	CreateCertificate(ctx context.Context, c *Certificate) error
	Certificate(ctx context.Context, tenantID, id string) (*Certificate, error)
	CertificateBySerial(ctx context.Context, tenantID, serialHex string) (*Certificate, error)
	// CertificatesBySerial returns every record of the tenant with the
	// serial (issued and registered ones), oldest first; none is no error.
	CertificatesBySerial(ctx context.Context, tenantID, serialHex string) ([]*Certificate, error)
	Certificates(ctx context.Context, tenantID, userID string) ([]*Certificate, error)
	RevokeCertificate(ctx context.Context, tenantID, id string, at time.Time) error

	// ReserveIdempotency claims (tenant, key) for a request whose body hashes
	// to bodyHash. It returns nil if the caller now owns the key, or the
	// existing record (Done false while the first request still runs). A
	// reservation abandoned by a process that died mid-request (older than
	// IdempotencyAbandonAfter; with SQLite made by an earlier process; with
	// PostgreSQL made by a process whose liveness lock is free) is taken
	// over by a caller with the same bodyHash: it returns nil then,
	// and the caller must not repeat a side effect the first attempt may
	// have had (see signPDFServer).
	ReserveIdempotency(ctx context.Context, tenantID, key string, bodyHash [32]byte, now time.Time) (*IdempotencyRecord, error)
	FinishIdempotency(ctx context.Context, tenantID, key string, status int, body []byte) error
	ReleaseIdempotency(ctx context.Context, tenantID, key string) error

	// AppendAudit appends e to its tenant's hash chain, filling Seq,
	// PrevHash and Hash.
	AppendAudit(ctx context.Context, e *AuditEntry) error
	AuditLogs(ctx context.Context, f AuditFilter) ([]*AuditEntry, error)
	// AuditPage returns a page of a tenant's entries, newest first, and
	// whether older entries match q too.
	AuditPage(ctx context.Context, q AuditQuery) (entries []*AuditEntry, more bool, err error)
	// VerifyAudit walks a tenant's chain and returns the number of entries,
	// or an error naming the first entry that does not match.
	VerifyAudit(ctx context.Context, tenantID string) (int, error)

	CreateLinkKey(ctx context.Context, k *LinkKey) error
	LinkKeys(ctx context.Context) ([]*LinkKey, error)
	// ActivateLinkKey makes kid the one key that signs its tenant's links;
	// the tenant's others stay published for verification until retired.
	// Other tenants' keys are not touched.
	ActivateLinkKey(ctx context.Context, kid string, at time.Time) error

	CreateSAD(ctx context.Context, s *SAD) error
	// UseSAD consumes a SAD once (compare and set).
	UseSAD(ctx context.Context, tenantID, id string, now time.Time) (*SAD, error)

	// PeekSAD returns an unused, unexpired SAD without spending it (an
	// OAuth credential token presented as a bearer).
	PeekSAD(ctx context.Context, id string, now time.Time) (*SAD, error)

	CreateOAuthRequest(ctx context.Context, r *OAuthRequest) error
	OAuthRequest(ctx context.Context, id string) (*OAuthRequest, error)
	// ApproveOAuthRequest moves a pending, unexpired request to approved
	// with the hash of its authorization code (compare and set);
	// ErrNotFound when it is not pending or expired.
	ApproveOAuthRequest(ctx context.Context, id string, codeHash string, codeExpires, now time.Time) error
	// RedeemOAuthCode spends an approved request's code once (compare and
	// set) and returns the request; ErrNotFound for an unknown, used or
	// expired code.
	RedeemOAuthCode(ctx context.Context, codeHash string, now time.Time) (*OAuthRequest, error)

	// PutDevOTP keeps a code the dev outbox sent (dev mode only) and
	// drops those expired at now: a code is kept as long as it lives.
	PutDevOTP(ctx context.Context, m *DevOTP, now time.Time) error
	// DevOTP returns the kept code otpID unless it expired at now.
	DevOTP(ctx context.Context, otpID string, now time.Time) (*DevOTP, error)

	// Setting and PutSetting keep small named values (the CA's state).
	// PutSetting with onlyIfAbsent keeps an existing value and returns it.
	Setting(ctx context.Context, name string) ([]byte, error)
	PutSetting(ctx context.Context, name string, value []byte, onlyIfAbsent bool) ([]byte, error)
}

// DevOTP is a code the dev outbox sent, kept in the store for the dev read
// route of every gateway that shares it. Sealed is the code under the
// master key (sealSecret, label "dev otp "+OTPID).
type DevOTP struct {
	OTPID, TenantID, UserID, Purpose, Summary string
	Sealed                                    []byte
	ExpiresAt                                 time.Time
}

// Errors of the store.
var (
	ErrNotFound    = errors.New("gateway: not found")
	ErrExists      = errors.New("gateway: already exists")
	ErrOTPInvalid  = errors.New("gateway: wrong one-time code")
	ErrOTPLocked   = errors.New("gateway: one-time code locked after too many attempts")
	ErrOTPExpired  = errors.New("gateway: one-time code expired")
	ErrOTPUsed     = errors.New("gateway: one-time code already used")
	ErrOTPLimit    = errors.New("gateway: too many one-time codes")
	ErrSADInvalid  = errors.New("gateway: signature activation data unknown, used or expired")
	ErrAuditBroken = errors.New("gateway: audit chain broken")
)

// Tenant is an integrator (a portal) with its own keys, origins and data.
type Tenant struct {
	ID        string
	Name      string
	Disabled  bool
	CreatedAt time.Time
}

// APIKey is a tenant's secret key. Only the SHA-256 of the full key is kept.
type APIKey struct {
	ID        string // public part of the key, e.g. "k3f9…"
	TenantID  string
	Name      string
	Hash      [32]byte
	Live      bool // ss_live_ (true) or ss_test_ key
	CreatedAt time.Time
	RevokedAt time.Time // zero: active
	// TenantDisabled is filled by Store.APIKey (one query for auth).
	TenantDisabled bool
}

// AccessToken is a short-lived bearer token obtained with an API key.
type AccessToken struct {
	ID        string
	TenantID  string
	APIKeyID  string
	Hash      [32]byte
	ExpiresAt time.Time
}

// User is a tenant's end user (a signer).
type User struct {
	ID         string
	TenantID   string
	ExternalID string
	Name       string
	Email      string
	Phone      string
	// Subject holds further certificate subject fields as verified at
	// onboarding (state, postal code, locality, organization, country).
	Subject   UserSubject
	CreatedAt time.Time
}

// UserSubject is the part of a certificate subject that comes from the
// user record besides name and e-mail.
type UserSubject struct {
	Organization string `json:"o,omitempty"`
	Locality     string `json:"l,omitempty"`
	State        string `json:"st,omitempty"`
	PostalCode   string `json:"postalCode,omitempty"`
	Country      string `json:"c,omitempty"`
}

// OTP is a one-time code for one purpose ("issue", "sign", "csc"); only
// its HMAC under a key derived from the master key is kept (see otpMAC).
type OTP struct {
	ID       string
	TenantID string
	UserID   string
	Purpose  string
	Salt     []byte
	Hash     [32]byte
	// Consent is the operation a sign code approves (nil for issue).
	Consent   *Consent
	Attempts  int
	ExpiresAt time.Time
	UsedAt    time.Time
	CreatedAt time.Time
}

// OTPLimits bound the codes a user holds and is sent.
type OTPLimits struct {
	MaxUnused   int           // unused, unexpired, unlocked codes at a time
	MaxAttempts int           // wrong codes that lock a code
	MaxSent     int           // codes sent per Window
	Window      time.Duration // of MaxSent
}

// OTPLimitError is a refused CreateOTP: which limit, and when a new code
// can be sent.
type OTPLimitError struct {
	Unused     bool // MaxUnused reached (else MaxSent)
	Limit      int
	RetryAfter time.Time
}

func (e *OTPLimitError) Error() string {
	if e.Unused {
		return fmt.Sprintf("the user already holds %d unused one-time codes", e.Limit)
	}
	return fmt.Sprintf("the user was sent %d one-time codes recently", e.Limit)
}

func (e *OTPLimitError) Unwrap() error { return ErrOTPLimit }

// OAuthRequest is a CSC OAuth 2.0 authorization request waiting for, or
// given, the user's approval on the gateway's consent page.
type OAuthRequest struct {
	ID            string        `json:"id"`
	TenantID      string        `json:"tenantId"`
	ClientID      string        `json:"clientId"`
	RedirectURI   string        `json:"redirectUri"`
	State         string        `json:"state,omitempty"`
	CodeChallenge string        `json:"codeChallenge"`
	CredentialID  string        `json:"credentialId"`
	UserID        string        `json:"userId"`
	HashAlgo      string        `json:"hashAlgo"`
	Digests       []OAuthDigest `json:"digests"`
	OTPID         string        `json:"otpId"`
	Status        string        `json:"-"` // "pending", "approved", "used"
	ExpiresAt     time.Time     `json:"expiresAt"`
	CreatedAt     time.Time     `json:"createdAt"`
}

// OAuthDigest is one document of an OAuth authorization: its digest and
// the label the user is shown.
type OAuthDigest struct {
	Hash  []byte `json:"hash"`
	Label string `json:"label"`
}

// Session statuses.
const (
	StatusPending = "pending"
	StatusSigned  = "signed"
	StatusFailed  = "failed"
	StatusExpired = "expired"
)

// Session is a request sent to a signing app through a deep link.
type Session struct {
	RequestID   string
	TenantID    string
	Kind        string // "hash", "pdf", "batch", "register"
	Action      string // "sign", "register"
	Hashes      [][]byte
	HashAlgo    string // "SHA256", "SHA384", "SHA512"
	Origin      string
	Challenge   []byte
	CertSerial  string // lowercase hex, "" if none
	CertSHA256  []byte
	UserID      string
	CallbackURL string
	ReturnURL   string
	Doc         string
	State       []byte // kind-specific state (PDF prepared signatures)
	Output      []byte // set after completion (signed files)
	ExpiresAt   time.Time
	CreatedAt   time.Time
	Status      string // StatusPending, StatusSigned, StatusFailed
	Completion  *Completion
}

// Completion is the outcome of a session.
type Completion struct {
	ResultHash  [32]byte
	Success     bool
	Code        string
	Message     string
	Signatures  [][]byte
	SignAlgo    string
	Certificate []byte // DER
	Chain       [][]byte
	CompletedAt time.Time
}

// Certificate is a certificate the gateway issued or a user registered.
type Certificate struct {
	ID          string
	TenantID    string
	UserID      string
	SerialHex   string // lowercase, no leading zeros
	SHA256Hex   string
	DER         []byte
	Chain       [][]byte // intermediates, leaf excluded
	Source      string   // "issued", "registered"
	KeyLocation string   // "client", "server", "token"
	KeyKind     string   // "software" (KeyBlob encrypted PKCS#8), "pkcs11", ""
	KeyBlob     []byte
	Profile     string
	NotBefore   time.Time
	NotAfter    time.Time
	RevokedAt   time.Time
	CreatedAt   time.Time
}

// IdempotencyRecord is the remembered answer to a create or sign call.
type IdempotencyRecord struct {
	BodyHash [32]byte
	Done     bool
	Status   int
	Body     []byte
}

// AuditEntry is one event of a tenant's append-only, hash-chained log.
type AuditEntry struct {
	TenantID   string    `json:"tenantId"`
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"` // API key id, "callback", "admin"
	Action     string    `json:"action"`
	Origin     string    `json:"origin,omitempty"`
	RequestID  string    `json:"requestId,omitempty"`
	CertSerial string    `json:"certSerial,omitempty"`
	DocHash    string    `json:"docHash,omitempty"`
	Outcome    string    `json:"outcome,omitempty"`
	Detail     string    `json:"detail,omitempty"`
	PrevHash   []byte    `json:"prevHash"`
	Hash       []byte    `json:"hash"`
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	TenantID  string
	From, To  time.Time
	RequestID string
	Limit     int // default 1000
}

// LinkKey is an Ed25519 key that signs deep links. Private is the seed,
// encrypted at rest.
type LinkKey struct {
	KID string
	// TenantID is the tenant whose links the key signs; "" is the
	// gateway's own key of before 1.1, kept published.
	TenantID  string
	Public    []byte
	Private   []byte
	Active    bool
	CreatedAt time.Time
	RetiredAt time.Time
}

// SAD is CSC signature activation data: one authorization to sign listed
// hashes with one credential.
type SAD struct {
	ID           string
	TenantID     string
	CredentialID string
	Hashes       [][]byte
	ExpiresAt    time.Time
	UsedAt       time.Time
}
