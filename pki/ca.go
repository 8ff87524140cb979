package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/securesign/securesign/signer"
)

// Config configures a CA. Cert, Key, Chain and Store are required.
type Config struct {
	// Cert and Key are the issuing CA's certificate and private key. Key is
	// any crypto.Signer: a signer.Signer from a file in dev, a PKCS#11 key
	// in production.
	Cert *x509.Certificate
	Key  crypto.Signer
	// Chain holds the certificates above Cert, up to and including the
	// root (for a root-issued intermediate: just the root).
	Chain []*x509.Certificate
	// Store keeps issued certificates, revocations and key blobs.
	Store Store
	// RootKey is the root CA's key (the last certificate of Chain). When
	// set, the CA signs the root's CRL on demand (RootCRL) and Handler
	// serves it at RootCRLPath, where an issuing CA certificate made by
	// NewHierarchy with a BaseURL points. Nil with RootCRL nil: no root CRL.
	RootKey crypto.Signer
	// RootCRL is a DER CRL signed ahead of time by an offline root, served
	// as is when RootKey is nil. New checks its signature.
	RootCRL []byte
	// Keys generates and keeps subjects' keys for server-side key
	// generation; nil disables IssueKeyGen.
	Keys KeyGenerator
	// BaseURL is the absolute http(s) URL where Handler is served, e.g.
	// "https://ca.example.in/pki". Certificates point to BaseURL+"/ocsp"
	// (AIA OCSP), BaseURL+"/ca.crt" (AIA caIssuers) and BaseURL+"/crl"
	// (CRL distribution point). Empty leaves these out.
	BaseURL string
	// PolicyOID goes into the built-in signing profiles; nil means
	// DevPolicyOID. Ignored when Profiles is set.
	PolicyOID asn1.ObjectIdentifier
	// Profiles replaces the built-in profiles (DefaultProfiles); map keys
	// are the profile names. It must hold "ocsp" and "tsa" unless
	// OCSPSigner and TSASigner are given.
	Profiles map[string]*Profile
	// OCSPSigner is the delegated OCSP responder: its certificate must be
	// issued by Cert with the ocsp profile. Nil means New generates a P-256
	// key in memory and issues it a certificate.
	OCSPSigner signer.Signer
	// TSASigner is the time-stamping unit: its certificate must carry the
	// critical timeStamping EKU. Nil means New generates one in memory.
	TSASigner signer.Signer
	// TSAPolicyOID is the policy of timestamp tokens; nil means
	// DevPolicyOID with last arc 100 added.
	TSAPolicyOID asn1.ObjectIdentifier
	// TSAAccuracy is the accuracy claimed in tokens; 0 means 1 s.
	TSAAccuracy time.Duration
	// CRLValidity is the time from a CRL's thisUpdate to nextUpdate; 0
	// means 24 h. OCSPValidity is the same for OCSP answers; 0 means 1 h.
	CRLValidity, OCSPValidity time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// OnClose, when set, is called by CA.Close: the owner of resources the
	// CA uses (package cadir: its SQLite store) hands their release to it.
	OnClose func() error
}

// CA is a certificate authority issuing from profiles under one issuing CA
// certificate. It is safe for concurrent use.
type CA struct {
	cfg      Config
	profiles map[string]*Profile
	ski      []byte
	ocsp     signer.Signer
	tsa      signer.Signer

	crlMu    sync.Mutex
	crlCache *cachedCRL

	rootCRL rootCRLState
}

type cachedCRL struct {
	der     []byte
	revoked int
	at      time.Time
	next    time.Time
}

// New returns a CA for cfg. When cfg.OCSPSigner or cfg.TSASigner is nil it
// issues an in-memory responder or TSA certificate (recorded in the store).
func New(ctx context.Context, cfg Config) (*CA, error) {
	if cfg.Cert == nil || cfg.Key == nil || cfg.Store == nil {
		return nil, errors.New("pki: Config needs Cert, Key and Store")
	}
	if !cfg.Cert.IsCA || cfg.Cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, errors.New("pki: Config.Cert is not a CA certificate with keyCertSign")
	}
	if !publicKeyEqual(cfg.Key.Public(), cfg.Cert.PublicKey) {
		return nil, errors.New("pki: Config.Key does not match Config.Cert")
	}
	if cfg.RootKey != nil || cfg.RootCRL != nil {
		root := cfg.Cert
		if n := len(cfg.Chain); n > 0 {
			root = cfg.Chain[n-1]
		}
		if cfg.RootKey != nil && !publicKeyEqual(cfg.RootKey.Public(), root.PublicKey) {
			return nil, errors.New("pki: Config.RootKey does not match the root certificate (last of Config.Chain)")
		}
		if cfg.RootKey == nil {
			if err := checkRootCRL(cfg.RootCRL, root); err != nil {
				return nil, fmt.Errorf("pki: Config.RootCRL: %w", err)
			}
		}
	}
	if cfg.BaseURL != "" {
		if _, err := checkHTTPURL(cfg.BaseURL); err != nil {
			return nil, fmt.Errorf("pki: Config.BaseURL: %w", err)
		}
		cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.CRLValidity <= 0 {
		cfg.CRLValidity = 24 * time.Hour
	}
	if cfg.OCSPValidity <= 0 {
		cfg.OCSPValidity = time.Hour
	}
	if cfg.TSAAccuracy <= 0 {
		cfg.TSAAccuracy = time.Second
	}
	if cfg.TSAPolicyOID == nil {
		cfg.TSAPolicyOID = append(append(asn1.ObjectIdentifier{}, DevPolicyOID...), 100)
	}
	profiles := map[string]*Profile{}
	src := cfg.Profiles
	if src == nil {
		src = DefaultProfiles(cfg.PolicyOID)
	}
	for name, p := range src {
		if p == nil || name == "" || p.Validity <= 0 || p.KeyUsage == 0 || (p.Keys.MinRSABits == 0 && len(p.Keys.Curves) == 0) {
			return nil, fmt.Errorf("pki: profile %q needs a validity, a key usage and key rules", name)
		}
		if p.Keys.MinRSABits != 0 && p.Keys.MinRSABits < 2048 {
			return nil, fmt.Errorf("pki: profile %q accepts RSA keys under 2048 bits", name)
		}
		cp := *p // the caller's profiles stay theirs
		cp.Name = name
		profiles[name] = &cp
	}
	for _, need := range []string{ProfileOCSP, ProfileTSA} {
		if _, ok := profiles[need]; !ok && ((need == ProfileOCSP && cfg.OCSPSigner == nil) || (need == ProfileTSA && cfg.TSASigner == nil)) {
			return nil, fmt.Errorf("pki: Config.Profiles lacks %q, needed to make the %s certificate", need, need)
		}
	}
	ca := &CA{cfg: cfg, profiles: profiles, ski: cfg.Cert.SubjectKeyId}
	if len(ca.ski) == 0 {
		ca.ski = keyID(cfg.Cert.PublicKey)
	}
	var err error
	if s := cfg.OCSPSigner; s != nil {
		if err := checkServiceCert(s, cfg.Cert, x509.ExtKeyUsageOCSPSigning); err != nil {
			return nil, fmt.Errorf("pki: Config.OCSPSigner: %w", err)
		}
	}
	if s := cfg.TSASigner; s != nil {
		if err := checkServiceCert(s, cfg.Cert, x509.ExtKeyUsageTimeStamping); err != nil {
			return nil, fmt.Errorf("pki: Config.TSASigner: %w", err)
		}
	}
	if ca.ocsp = cfg.OCSPSigner; ca.ocsp == nil {
		if ca.ocsp, err = ca.ephemeral(ctx, ProfileOCSP, "OCSP Responder"); err != nil {
			return nil, fmt.Errorf("pki: OCSP responder certificate: %w", err)
		}
	}
	if ca.tsa = cfg.TSASigner; ca.tsa == nil {
		if ca.tsa, err = ca.ephemeral(ctx, ProfileTSA, "Time Stamping Unit"); err != nil {
			return nil, fmt.Errorf("pki: TSA certificate: %w", err)
		}
	}
	return ca, nil
}

// ephemeral issues a service certificate (OCSP responder, TSA) for a fresh
// in-memory P-256 key.
func (ca *CA) ephemeral(ctx context.Context, profile, role string) (signer.Signer, error) {
	key, err := GenerateKey(P256)
	if err != nil {
		return nil, err
	}
	cn := ca.cfg.Cert.Subject.CommonName + " " + role
	cert, err := ca.Issue(ctx, key.Public(), Subject{CommonName: cn, Organization: first(ca.cfg.Cert.Subject.Organization), Country: first(ca.cfg.Cert.Subject.Country)}, profile)
	if err != nil {
		return nil, err
	}
	return signer.NewSoftware(key, cert, ca.ChainCerts())
}

// IssueServiceSigner issues, under cfg's issuing CA, a certificate for key
// with the built-in profile ProfileOCSP or ProfileTSA (DefaultProfiles of
// cfg.PolicyOID), named after the CA plus role (e.g. "OCSP Responder"), and
// records it in cfg.Store. It is what New does for a nil Config.OCSPSigner
// or TSASigner, for callers that keep the key themselves (package cadir
// writes it to the CA directory) and pass the result to New. cfg needs
// Cert, Key and Store; nil Now means time.Now.
func IssueServiceSigner(ctx context.Context, cfg Config, profile, role string, key crypto.Signer) (signer.Signer, error) {
	if cfg.Cert == nil || cfg.Key == nil || cfg.Store == nil || key == nil {
		return nil, errors.New("pki: IssueServiceSigner needs Config.Cert, Key, Store and a key")
	}
	if profile != ProfileOCSP && profile != ProfileTSA {
		return nil, fmt.Errorf("pki: IssueServiceSigner: profile %q is not %q or %q", profile, ProfileOCSP, ProfileTSA)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	cfg.BaseURL = strings.TrimRight(cfg.BaseURL, "/")
	ca := &CA{cfg: cfg, profiles: DefaultProfiles(cfg.PolicyOID), ski: cfg.Cert.SubjectKeyId}
	if len(ca.ski) == 0 {
		ca.ski = keyID(cfg.Cert.PublicKey)
	}
	cn := cfg.Cert.Subject.CommonName + " " + role
	cert, err := ca.issue(ctx, ca.profiles[profile], key.Public(), Subject{CommonName: cn, Organization: first(cfg.Cert.Subject.Organization), Country: first(cfg.Cert.Subject.Country)}, "")
	if err != nil {
		return nil, err
	}
	return signer.NewSoftware(key, cert, ca.ChainCerts())
}

// Close calls Config.OnClose (cadir.Open and cadir.Init set it to close
// their SQLite store); without one it does nothing.
func (ca *CA) Close() error {
	if ca.cfg.OnClose != nil {
		return ca.cfg.OnClose()
	}
	return nil
}

func first(s []string) string {
	if len(s) > 0 {
		return s[0]
	}
	return ""
}

// Certificate returns the issuing CA certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cfg.Cert }

// ChainCerts returns the issuing CA certificate followed by the chain up to
// and including the root.
func (ca *CA) ChainCerts() []*x509.Certificate {
	return append([]*x509.Certificate{ca.cfg.Cert}, ca.cfg.Chain...)
}

// Root returns the root certificate (the issuing CA itself when it is
// self-signed).
func (ca *CA) Root() *x509.Certificate {
	if n := len(ca.cfg.Chain); n > 0 {
		return ca.cfg.Chain[n-1]
	}
	return ca.cfg.Cert
}

// ChainPEM returns ChainCerts as PEM, as served at /ca.pem.
func (ca *CA) ChainPEM() []byte {
	var b bytes.Buffer
	for _, c := range ca.ChainCerts() {
		pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// OCSPSigner returns the delegated OCSP responder.
func (ca *CA) OCSPSigner() signer.Signer { return ca.ocsp }

// TSASigner returns the time-stamping unit.
func (ca *CA) TSASigner() signer.Signer { return ca.tsa }

// Store returns the CA's store.
func (ca *CA) Store() Store { return ca.cfg.Store }

// Profile returns the named profile ("" means individual-signing).
func (ca *CA) Profile(name string) (*Profile, error) {
	if name == "" {
		name = ProfileIndividualSigning
	}
	p, ok := ca.profiles[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownProfile, name)
	}
	return p, nil
}

// Profiles returns the names of the CA's profiles, sorted.
func (ca *CA) Profiles() []string { return slices.Sorted(maps.Keys(ca.profiles)) }

// maxCSRSize bounds a certificate request; real ones are about 1 KB.
const maxCSRSize = 64 << 10

// ParseCSR parses a PEM or DER certificate request and checks its
// self-signature. Errors wrap ErrBadCSR.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > maxCSRSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadCSR, len(data), maxCSRSize)
	}
	der := data
	if b, _ := pem.Decode(data); b != nil {
		if b.Type != "CERTIFICATE REQUEST" && b.Type != "NEW CERTIFICATE REQUEST" {
			return nil, fmt.Errorf("%w: PEM block %q, want CERTIFICATE REQUEST", ErrBadCSR, b.Type)
		}
		der = b.Bytes
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: self-signature: %v", ErrBadCSR, err)
	}
	return csr, nil
}

// IssueCSR issues a certificate for the key of a CSR (PEM or DER) under
// profile ("" means individual-signing). The CSR's self-signature proves
// possession of the key; its subject and extensions are ignored: subject
// comes from the caller's verified record. Errors wrap ErrBadCSR,
// ErrWeakKey, ErrUnknownProfile or ErrBadSubject, and leave no state.
func (ca *CA) IssueCSR(ctx context.Context, csr []byte, subject Subject, profile string) (*x509.Certificate, error) {
	p, err := ca.Profile(profile)
	if err != nil {
		return nil, err
	}
	req, err := ParseCSR(csr)
	if err != nil {
		return nil, err
	}
	return ca.issue(ctx, p, req.PublicKey, subject, "")
}

// Issue certifies pub under profile ("" means individual-signing). The
// caller must have verified possession of the private key.
func (ca *CA) Issue(ctx context.Context, pub crypto.PublicKey, subject Subject, profile string) (*x509.Certificate, error) {
	p, err := ca.Profile(profile)
	if err != nil {
		return nil, err
	}
	return ca.issue(ctx, p, pub, subject, "")
}

// IssueKeyGen generates a key of type kt with the CA's KeyGenerator and
// issues a certificate for it. The returned key id loads the key later
// (LoadSigner). On error no certificate is stored (a generated key may be
// left in the key store, unreferenced).
func (ca *CA) IssueKeyGen(ctx context.Context, kt KeyType, subject Subject, profile string) (*x509.Certificate, string, error) {
	if ca.cfg.Keys == nil {
		return nil, "", errors.New("pki: server-side key generation is not configured (Config.Keys)")
	}
	p, err := ca.Profile(profile)
	if err != nil {
		return nil, "", err
	}
	// Check subject and key type before making a key.
	if _, err := p.Subject.apply(subject); err != nil {
		return nil, "", err
	}
	if _, err := ParseKeyType(string(kt)); err != nil {
		return nil, "", err
	}
	id, pub, err := ca.cfg.Keys.GenerateKey(ctx, kt)
	if err != nil {
		return nil, "", fmt.Errorf("pki: key generation: %w", err)
	}
	cert, err := ca.issue(ctx, p, pub, subject, id)
	if err != nil {
		return nil, "", err
	}
	return cert, id, nil
}

// LoadSigner returns a signer.Signer for a certificate issued by
// IssueKeyGen: its key from the KeyGenerator, the certificate and chain
// from the store. Errors wrap ErrNotFound for unknown serials or keys.
func (ca *CA) LoadSigner(ctx context.Context, serial *big.Int) (signer.Signer, error) {
	rec, err := ca.cfg.Store.Certificate(ctx, serial)
	if err != nil {
		return nil, err
	}
	if rec.KeyID == "" || ca.cfg.Keys == nil {
		return nil, fmt.Errorf("%w: no server-held key for certificate %x", ErrNotFound, serial)
	}
	key, err := ca.cfg.Keys.Signer(ctx, rec.KeyID)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, err
	}
	return signer.NewSoftware(key, cert, ca.ChainCerts())
}

// Lookup returns the stored record of serial (ErrNotFound if the CA did not
// issue it).
func (ca *CA) Lookup(ctx context.Context, serial *big.Int) (*CertRecord, error) {
	return ca.cfg.Store.Certificate(ctx, serial)
}

func (ca *CA) issue(ctx context.Context, p *Profile, pub crypto.PublicKey, subject Subject, keyRef string) (*x509.Certificate, error) {
	subject, err := p.Subject.apply(subject)
	if err != nil {
		return nil, err
	}
	if err := p.Keys.check(pub); err != nil {
		return nil, err
	}
	now := ca.cfg.Now().UTC().Truncate(time.Second)
	notBefore := now.Add(-time.Minute) // tolerate clients whose clocks lag
	notAfter := now.Add(p.Validity)
	if notAfter.After(ca.cfg.Cert.NotAfter) {
		notAfter = ca.cfg.Cert.NotAfter
	}
	if !notAfter.After(now) {
		return nil, errors.New("pki: issuing CA certificate has expired")
	}
	tmpl := &x509.Certificate{
		Subject:               subject.Name(),
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		KeyUsage:              p.KeyUsage,
		ExtKeyUsage:           p.ExtKeyUsage,
		BasicConstraintsValid: true,
		SubjectKeyId:          keyID(pub),
		AuthorityKeyId:        ca.ski,
		PolicyIdentifiers:     p.Policies,
	}
	for _, oid := range p.Policies {
		// Since Go 1.24 Policies (not PolicyIdentifiers) is what gets encoded.
		ints := make([]uint64, len(oid))
		for i, v := range oid {
			ints[i] = uint64(v)
		}
		o, err := x509.OIDFromInts(ints)
		if err != nil {
			return nil, fmt.Errorf("pki: profile %s: policy %v: %w", p.Name, oid, err)
		}
		tmpl.Policies = append(tmpl.Policies, o)
	}
	if subject.Email != "" {
		tmpl.EmailAddresses = []string{subject.Email}
	}
	if p.ExtKeyUsageCritical && len(p.ExtKeyUsage) > 0 {
		ext, err := ekuExtension(p.ExtKeyUsage)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, ext)
	}
	if p.OCSPNoCheck {
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidOCSPNoCheck, Value: asn1.NullBytes})
	}
	if p.Revocation && ca.cfg.BaseURL != "" {
		tmpl.OCSPServer = []string{ca.cfg.BaseURL + "/ocsp"}
		tmpl.IssuingCertificateURL = []string{ca.cfg.BaseURL + "/ca.crt"}
		tmpl.CRLDistributionPoints = []string{ca.cfg.BaseURL + "/crl"}
	}
	for attempt := 0; ; attempt++ {
		serial, err := ca.newSerial(ctx)
		if err != nil {
			return nil, err
		}
		tmpl.SerialNumber = serial
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cfg.Cert, pub, ca.cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("pki: signing certificate: %w", err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		err = ca.cfg.Store.PutCertificate(ctx, &CertRecord{
			Serial: serial, DER: der, Profile: p.Name, Subject: subject.CommonName,
			NotAfter: notAfter, KeyID: keyRef, IssuedAt: now,
		})
		if errors.Is(err, ErrSerialExists) && attempt < 3 {
			continue // a concurrent issuance took the serial: draw again
		}
		if err != nil {
			return nil, fmt.Errorf("pki: storing certificate: %w", err)
		}
		return cert, nil
	}
}

// newSerial draws a positive 128-bit random serial unused in the store.
func (ca *CA) newSerial(ctx context.Context) (*big.Int, error) {
	for range 8 {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		s := new(big.Int).SetBytes(b)
		if s.Sign() == 0 {
			continue
		}
		_, err := ca.cfg.Store.Certificate(ctx, s)
		if errors.Is(err, ErrNotFound) {
			return s, nil
		}
		if err != nil {
			return nil, fmt.Errorf("pki: checking serial: %w", err)
		}
	}
	return nil, errors.New("pki: could not draw an unused serial number")
}

var oidExtExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

var ekuOIDs = map[x509.ExtKeyUsage]asn1.ObjectIdentifier{
	x509.ExtKeyUsageServerAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 1},
	x509.ExtKeyUsageClientAuth:      {1, 3, 6, 1, 5, 5, 7, 3, 2},
	x509.ExtKeyUsageCodeSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 3},
	x509.ExtKeyUsageEmailProtection: {1, 3, 6, 1, 5, 5, 7, 3, 4},
	x509.ExtKeyUsageTimeStamping:    {1, 3, 6, 1, 5, 5, 7, 3, 8},
	x509.ExtKeyUsageOCSPSigning:     {1, 3, 6, 1, 5, 5, 7, 3, 9},
}

// ekuExtension encodes a critical extendedKeyUsage extension; crypto/x509
// always writes it non-critical.
func ekuExtension(ekus []x509.ExtKeyUsage) (pkix.Extension, error) {
	var oids []asn1.ObjectIdentifier
	for _, u := range ekus {
		oid, ok := ekuOIDs[u]
		if !ok {
			return pkix.Extension{}, fmt.Errorf("pki: extended key usage %d not supported as critical", u)
		}
		oids = append(oids, oid)
	}
	v, err := asn1.Marshal(oids)
	return pkix.Extension{Id: oidExtExtKeyUsage, Critical: true, Value: v}, err
}

// keyID is the RFC 5280 method 1 key identifier: SHA-1 of the public key bits.
func keyID(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	h := sha1.Sum(spki.PublicKey.RightAlign())
	return h[:]
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

// checkServiceCert checks that an OCSP responder or TSA certificate was
// issued by the CA, carries eku and matches its key.
func checkServiceCert(s signer.Signer, issuer *x509.Certificate, eku x509.ExtKeyUsage) error {
	c := s.Certificate()
	if c == nil {
		return errors.New("no certificate")
	}
	if err := c.CheckSignatureFrom(issuer); err != nil {
		return fmt.Errorf("certificate not issued by the CA: %w", err)
	}
	if !publicKeyEqual(s.Public(), c.PublicKey) {
		return errors.New("certificate does not match the key")
	}
	for _, u := range c.ExtKeyUsage {
		if u == eku {
			return nil
		}
	}
	return fmt.Errorf("certificate lacks the extended key usage it needs")
}
