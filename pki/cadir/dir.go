// Package cadir keeps a certificate authority in a directory on disk: its
// keys and certificates in files, its pki.Store in an SQLite database
// (Store, ca.db). It is what `securesign pki` runs on. It lives apart from
// package pki so that programs that only verify or sign (package pdf uses
// pki for chain and revocation checks) do not link an SQL engine.
package cadir

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/securesign/securesign/internal/atomicfile"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// Options configures Init and Open.
type Options struct {
	// Passphrase protects the keys; empty means plain key files (dev only).
	Passphrase []byte
	// KeyType of the CA keys (Init); "" means ecdsa-p256.
	KeyType pki.KeyType
	// BaseURL where the CA's Handler is served, written into certificates.
	// Init stores it; for Open a non-empty value overrides it.
	BaseURL string
	// Name and Organization of the CA (Init); see pki.HierarchyOptions.
	Name, Organization string
	// PolicyOID for the signing profiles (Init); nil means DevPolicyOID.
	PolicyOID asn1.ObjectIdentifier
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

type dirConfig struct {
	Version      int    `json:"version"`
	BaseURL      string `json:"baseURL,omitempty"`
	KeyType      string `json:"keyType"`
	PolicyOID    string `json:"policyOID"`
	TSAPolicyOID string `json:"tsaPolicyOID"`
	Encrypted    bool   `json:"encrypted"`
	KDFSalt      []byte `json:"kdfSalt,omitempty"`
	Created      string `json:"created"`
}

const (
	dirConfigFile = "ca.json"
	dirStoreFile  = "ca.db"
	keyPEMType    = "SECURESIGN ENCRYPTED PRIVATE KEY"
)

// Init creates a CA directory: a new root and issuing CA, an OCSP
// responder and a TSA certificate, and an empty store. It refuses a
// directory that is not empty, and leaves it empty again when it fails.
// The returned CA is open (Close it).
//
// The directory holds:
//
//	ca.json      settings: base URL, key type, policy OIDs, KDF salt
//	root.pem     root CA certificate
//	ca.pem       issuing CA certificate
//	ocsp.pem     delegated OCSP responder certificate
//	tsa.pem      time-stamping unit certificate
//	root.key, issuing.key, ocsp.key, tsa.key
//	             private keys, mode 0600
//	master.key   only without a passphrase: the key store's master secret
//	ca.db        SQLite store: issued certificates, revocations, CRL
//	             number, server-generated subject keys (always encrypted)
//
// With a passphrase (the CLI reads it from SECURESIGN_CA_PASS) the .key
// files are PKCS#8 sealed with AES-256-GCM under a key derived by scrypt
// from the passphrase and the salt in ca.json, and subject keys in ca.db are
// sealed under the same derived secret.
//
// WITHOUT a passphrase the .key files are PLAIN PKCS#8 and master.key is
// the plain master secret: anyone who can read the directory has the CA.
// That is for development only.
//
// The root key sits next to the issuing key for convenience; a production
// root is kept offline (pki.NewHierarchy and pki.New take any crypto.Signer, e.g. a
// PKCS#11 key). While root.key is there the CA signs the root CRL that the
// issuing CA certificate names (BaseURL+pki.RootCRLPath, fixed at Init: a
// later Open BaseURL changes only the certificates issued after).
func Init(ctx context.Context, dir string, o Options) (*pki.CA, error) {
	if _, err := os.Stat(filepath.Join(dir, dirConfigFile)); err == nil {
		return nil, fmt.Errorf("pki: %s already holds a CA", dir)
	}
	if ents, err := os.ReadDir(dir); err == nil && len(ents) > 0 {
		return nil, fmt.Errorf("pki: %s is not empty; Init needs a new or empty directory", dir)
	}
	if o.KeyType == "" {
		o.KeyType = pki.P256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.PolicyOID == nil {
		o.PolicyOID = pki.DevPolicyOID
	}
	// The issuing CA certificate points at the root CRL under the same
	// base URL as the certificates it will issue. NewHierarchy checks
	// o.BaseURL and o.KeyType before anything is written.
	h, err := pki.NewHierarchy(ctx, pki.HierarchyOptions{Name: o.Name, Organization: o.Organization, KeyType: o.KeyType, Now: o.Now, BaseURL: o.BaseURL})
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	// The directory was empty: on failure, leave it empty again.
	done := false
	defer func() {
		if !done {
			ents, _ := os.ReadDir(dir)
			for _, e := range ents {
				os.RemoveAll(filepath.Join(dir, e.Name()))
			}
		}
	}()
	cfg := dirConfig{
		Version: 1, BaseURL: strings.TrimRight(o.BaseURL, "/"), KeyType: string(o.KeyType),
		PolicyOID: o.PolicyOID.String(), TSAPolicyOID: append(append(asn1.ObjectIdentifier{}, o.PolicyOID...), 100).String(),
		Encrypted: len(o.Passphrase) > 0, Created: o.Now().UTC().Format(time.RFC3339),
	}
	master, err := dirMaster(dir, &cfg, o.Passphrase, true)
	if err != nil {
		return nil, err
	}
	defer clear(master)
	for _, f := range []struct {
		name string
		key  crypto.Signer
		cert *x509.Certificate
	}{{"root", h.RootKey, h.Root}, {"issuing", h.IssuingKey, nil}} {
		if err := writeKeyFile(dir, f.name+".key", f.key, master, cfg.Encrypted); err != nil {
			return nil, err
		}
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "root.pem"), pemCerts(h.Root), 0o644); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "ca.pem"), pemCerts(h.Issuing), 0o644); err != nil {
		return nil, err
	}
	// The store and the service certificates come last; ca.json, written
	// at the very end, marks the directory complete.
	ca, err := openDirCA(ctx, dir, &cfg, master, o, h.Issuing, h.IssuingKey, h.Root, h.RootKey)
	if err != nil {
		return nil, err
	}
	data, _ := json.MarshalIndent(cfg, "", "  ")
	if err := atomicfile.WriteBytes(filepath.Join(dir, dirConfigFile), append(data, '\n'), 0o600); err != nil {
		ca.Close()
		return nil, err
	}
	done = true
	return ca, nil
}

// Open opens a CA directory made by Init. Errors wrap
// pki.ErrKeyStoreLocked when the passphrase is wrong or missing.
func Open(ctx context.Context, dir string, o Options) (*pki.CA, error) {
	data, err := os.ReadFile(filepath.Join(dir, dirConfigFile))
	if err != nil {
		return nil, fmt.Errorf("pki: %s is not a CA directory (run pki init): %w", dir, err)
	}
	var cfg dirConfig
	if err := json.Unmarshal(data, &cfg); err != nil || cfg.Version != 1 {
		return nil, fmt.Errorf("pki: %s: unreadable %s", dir, dirConfigFile)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if cfg.Encrypted && len(o.Passphrase) == 0 {
		return nil, fmt.Errorf("%w: %s is encrypted and no passphrase was given", pki.ErrKeyStoreLocked, dir)
	}
	master, err := dirMaster(dir, &cfg, o.Passphrase, false)
	if err != nil {
		return nil, err
	}
	defer clear(master)
	key, err := readKeyFile(dir, "issuing.key", master, cfg.Encrypted)
	if err != nil {
		return nil, err
	}
	cert, err := readCertFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		return nil, err
	}
	root, err := readCertFile(filepath.Join(dir, "root.pem"))
	if err != nil {
		return nil, err
	}
	// root.key signs the root CRL; a root taken offline (root.key moved
	// away) means no root CRL is served.
	rootKey, err := readKeyFile(dir, "root.key", master, cfg.Encrypted)
	if errors.Is(err, os.ErrNotExist) {
		rootKey, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	return openDirCA(ctx, dir, &cfg, master, o, cert, key, root, rootKey)
}

func openDirCA(ctx context.Context, dir string, cfg *dirConfig, master []byte, o Options, cert *x509.Certificate, key crypto.Signer, root *x509.Certificate, rootKey crypto.Signer) (*pki.CA, error) {
	store, err := OpenStore(ctx, filepath.Join(dir, dirStoreFile))
	if err != nil {
		return nil, err
	}
	keys, err := pki.NewSoftwareKeyStore(store, master)
	if err != nil {
		store.Close()
		return nil, err
	}
	policy, err := pki.ParseOID(cfg.PolicyOID)
	if err != nil {
		store.Close()
		return nil, err
	}
	tsaPolicy, err := pki.ParseOID(cfg.TSAPolicyOID)
	if err != nil {
		store.Close()
		return nil, err
	}
	base := cfg.BaseURL
	if o.BaseURL != "" {
		base = o.BaseURL
	}
	c := pki.Config{
		Cert: cert, Key: key, Chain: []*x509.Certificate{root}, RootKey: rootKey, Store: store, Keys: keys,
		BaseURL: base, PolicyOID: policy, TSAPolicyOID: tsaPolicy, Now: o.Now, OnClose: store.Close,
	}
	for _, svc := range []struct {
		name, profile, role string
		dst                 *signer.Signer
	}{{"ocsp", pki.ProfileOCSP, "OCSP Responder", &c.OCSPSigner}, {"tsa", pki.ProfileTSA, "Time Stamping Unit", &c.TSASigner}} {
		s, err := serviceSigner(ctx, c, dir, svc.name, svc.profile, svc.role, master, cfg.Encrypted, o.Now())
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("pki: %s certificate: %w", svc.name, err)
		}
		*svc.dst = s
	}
	ca, err := pki.New(ctx, c)
	if err != nil {
		store.Close()
		return nil, err
	}
	return ca, nil
}

// serviceSigner loads the OCSP or TSA key and certificate, or makes new
// ones when missing or within a week of expiry.
func serviceSigner(ctx context.Context, c pki.Config, dir, name, profile, role string, master []byte, encrypted bool, now time.Time) (signer.Signer, error) {
	key, kerr := readKeyFile(dir, name+".key", master, encrypted)
	cert, cerr := readCertFile(filepath.Join(dir, name+".pem"))
	if kerr == nil && cerr == nil && now.Add(7*24*time.Hour).Before(cert.NotAfter) {
		return signer.NewSoftware(key, cert, append([]*x509.Certificate{c.Cert}, c.Chain...))
	}
	if kerr != nil && !errors.Is(kerr, os.ErrNotExist) {
		return nil, kerr
	}
	key, err := pki.GenerateKey(pki.P256)
	if err != nil {
		return nil, err
	}
	s, err := pki.IssueServiceSigner(ctx, c, profile, role, key)
	if err != nil {
		return nil, err
	}
	if err := writeKeyFile(dir, name+".key", key, master, encrypted); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, name+".pem"), pemCerts(s.Certificate()), 0o644); err != nil {
		return nil, err
	}
	return s, nil
}

// dirMaster returns the master secret: derived from the passphrase, or read
// from (create: written to) master.key.
func dirMaster(dir string, cfg *dirConfig, pass []byte, create bool) ([]byte, error) {
	if cfg.Encrypted {
		if create {
			cfg.KDFSalt = make([]byte, 16)
			if _, err := rand.Read(cfg.KDFSalt); err != nil {
				return nil, err
			}
		}
		return pki.PassphraseKey(pass, cfg.KDFSalt)
	}
	p := filepath.Join(dir, "master.key")
	if create {
		m := make([]byte, 32)
		if _, err := rand.Read(m); err != nil {
			return nil, err
		}
		return m, atomicfile.WriteBytes(p, m, 0o600)
	}
	m, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", pki.ErrKeyStoreLocked, err)
	}
	return m, nil
}

func writeKeyFile(dir, name string, key crypto.Signer, master []byte, encrypted bool) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	defer clear(der)
	block := &pem.Block{Type: "PRIVATE KEY", Bytes: der}
	if encrypted {
		sealed, err := pki.SealKey(master, name, der)
		if err != nil {
			return err
		}
		block = &pem.Block{Type: keyPEMType, Headers: map[string]string{"Format": "securesign-v1 (scrypt, HKDF-SHA256, AES-256-GCM, PKCS#8)"}, Bytes: sealed}
	}
	return atomicfile.WriteBytes(filepath.Join(dir, name), pem.EncodeToMemory(block), 0o600)
}

func readKeyFile(dir, name string, master []byte, encrypted bool) (crypto.Signer, error) {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, fmt.Errorf("pki: %s: no PEM block", name)
	}
	der := b.Bytes
	switch {
	case b.Type == keyPEMType:
		if der, err = pki.OpenKey(master, name, b.Bytes); err != nil {
			return nil, err
		}
		defer clear(der)
	case encrypted:
		return nil, fmt.Errorf("pki: %s is not encrypted but the directory should be", name)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", name, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("pki: %s: key of type %T cannot sign", name, k)
	}
	return s, nil
}

func readCertFile(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := pki.ParseCertificates(data)
	if err != nil {
		return nil, fmt.Errorf("pki: %s: %w", path, err)
	}
	return certs[0], nil
}

func pemCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}
