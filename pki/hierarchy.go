package pki

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// HierarchyOptions configures NewHierarchy.
type HierarchyOptions struct {
	// Organization and Country go into both CA subjects; Country defaults
	// to "IN". Name prefixes the common names ("<Name> Root CA",
	// "<Name> Issuing CA"); it defaults to Organization, then "SecureSign".
	Name, Organization, Country string
	// KeyType is used for keys NewHierarchy generates; "" means ecdsa-p256.
	KeyType KeyType
	// RootKey and IssuingKey are existing CA keys (a file key, a PKCS#11
	// key); nil means generate a software key of KeyType.
	RootKey, IssuingKey crypto.Signer
	// RootValidity and IssuingValidity default to 20 and 10 years.
	RootValidity, IssuingValidity time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// BaseURL is where the CA's Handler will be served: the same value as
	// Config.BaseURL. When set, the issuing CA certificate names
	// BaseURL+RootCRLPath, a CRL signed by the root, as its CRL
	// distribution point and BaseURL+RootCertPath as AIA caIssuers, so
	// that validators can check its revocation (serve it with
	// Config.RootKey or Config.RootCRL). Empty leaves these out.
	BaseURL string
}

// Hierarchy is a root CA and an issuing (intermediate) CA with their keys.
type Hierarchy struct {
	Root, Issuing       *x509.Certificate
	RootKey, IssuingKey crypto.Signer
}

// NewHierarchy creates a self-signed root and an issuing CA certified by it
// (pathLen 0). Keys are RSA-3072/4096 or ECDSA P-256/P-384.
func NewHierarchy(ctx context.Context, o HierarchyOptions) (*Hierarchy, error) {
	if o.KeyType == "" {
		o.KeyType = P256
	}
	if o.KeyType == RSA2048 {
		return nil, fmt.Errorf("%w: CA keys must be RSA-3072 or larger, or ECDSA", ErrWeakKey)
	}
	if o.Country == "" {
		o.Country = "IN"
	}
	if o.Name == "" {
		o.Name = o.Organization
	}
	if o.Name == "" {
		o.Name = "SecureSign"
	}
	if o.Organization == "" {
		o.Organization = o.Name
	}
	if o.RootValidity <= 0 {
		o.RootValidity = 20 * 365 * 24 * time.Hour
	}
	if o.IssuingValidity <= 0 {
		o.IssuingValidity = 10 * 365 * 24 * time.Hour
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BaseURL != "" {
		if _, err := checkHTTPURL(o.BaseURL); err != nil {
			return nil, fmt.Errorf("pki: HierarchyOptions.BaseURL: %w", err)
		}
		// Trimmed as New trims Config.BaseURL, so that the issuing CA's
		// URLs and its certificates' URLs share one prefix.
		o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	}
	caRules := KeyRules{MinRSABits: 3072, Curves: []string{"P-256", "P-384"}}
	var err error
	h := &Hierarchy{RootKey: o.RootKey, IssuingKey: o.IssuingKey}
	for _, k := range []*crypto.Signer{&h.RootKey, &h.IssuingKey} {
		if *k == nil {
			if *k, err = GenerateKey(o.KeyType); err != nil {
				return nil, err
			}
		}
		if err := caRules.check((*k).Public()); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := o.Now().UTC().Truncate(time.Second).Add(-time.Minute)
	name := func(cn string) pkix.Name {
		return pkix.Name{CommonName: cn, Organization: []string{o.Organization}, Country: []string{o.Country}}
	}
	rootTmpl := &x509.Certificate{
		Subject:               name(o.Name + " Root CA"),
		NotBefore:             now,
		NotAfter:              now.Add(o.RootValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		SubjectKeyId:          keyID(h.RootKey.Public()),
	}
	if h.Root, err = createCert(rootTmpl, rootTmpl, h.RootKey.Public(), h.RootKey); err != nil {
		return nil, fmt.Errorf("pki: root certificate: %w", err)
	}
	interTmpl := &x509.Certificate{
		Subject:               name(o.Name + " Issuing CA"),
		NotBefore:             now,
		NotAfter:              now.Add(o.IssuingValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(h.IssuingKey.Public()),
	}
	if o.BaseURL != "" {
		interTmpl.CRLDistributionPoints = []string{o.BaseURL + RootCRLPath}
		interTmpl.IssuingCertificateURL = []string{o.BaseURL + RootCertPath}
	}
	if interTmpl.NotAfter.After(h.Root.NotAfter) {
		interTmpl.NotAfter = h.Root.NotAfter
	}
	if h.Issuing, err = createCert(interTmpl, h.Root, h.IssuingKey.Public(), h.RootKey); err != nil {
		return nil, fmt.Errorf("pki: issuing CA certificate: %w", err)
	}
	return h, nil
}

func createCert(tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) (*x509.Certificate, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	tmpl.SerialNumber = new(big.Int).SetBytes(b)
	if tmpl.SerialNumber.Sign() == 0 {
		return nil, errors.New("pki: zero serial drawn")
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// NewDev returns a CA for development and tests, entirely in memory: a
// fresh ECDSA P-256 hierarchy named "SecureSign Dev", a MemoryStore, and a
// SoftwareKeyStore with a random master secret. baseURL is where Handler
// will be served (may be empty); certificates, the issuing CA's included,
// point there for revocation, and the CA holds the root key to sign the
// root CRL.
func NewDev(ctx context.Context, baseURL string) (*CA, error) {
	h, err := NewHierarchy(ctx, HierarchyOptions{Name: "SecureSign Dev", KeyType: P256, BaseURL: baseURL})
	if err != nil {
		return nil, err
	}
	store := NewMemoryStore()
	master := make([]byte, 32)
	if _, err := rand.Read(master); err != nil {
		return nil, err
	}
	keys, err := NewSoftwareKeyStore(store, master)
	if err != nil {
		return nil, err
	}
	return New(ctx, Config{
		Cert: h.Issuing, Key: h.IssuingKey, Chain: []*x509.Certificate{h.Root}, RootKey: h.RootKey,
		Store: store, Keys: keys, BaseURL: baseURL,
	})
}

// chain returns the chain above the issuing CA (just the root).
func (h *Hierarchy) chain() []*x509.Certificate { return []*x509.Certificate{h.Root} }
