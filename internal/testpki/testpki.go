// Package testpki makes throwaway certificate hierarchies for tests: a root,
// an intermediate and leaf signing certificates with the key usages DSC
// certificates carry. Keys are generated once per process and key type.
package testpki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// KeyType names a key algorithm and size.
type KeyType string

const (
	RSA2048 KeyType = "RSA-2048"
	RSA3072 KeyType = "RSA-3072"
	RSA4096 KeyType = "RSA-4096"
	P256    KeyType = "ECDSA-P256"
	P384    KeyType = "ECDSA-P384"
	Ed25519 KeyType = "Ed25519"
)

var keyCache sync.Map // KeyType+slot -> crypto.Signer; keygen for RSA-4096 is slow

// Key returns a private key of type kt; the same slot gives the same key
// within one process.
func Key(t testing.TB, kt KeyType, slot int) crypto.Signer {
	t.Helper()
	k := fmt.Sprintf("%s/%d", kt, slot)
	if v, ok := keyCache.Load(k); ok {
		return v.(crypto.Signer)
	}
	var (
		key crypto.Signer
		err error
	)
	switch kt {
	case RSA2048:
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case RSA4096:
		key, err = rsa.GenerateKey(rand.Reader, 4096)
	case Ed25519:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case P256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case P384:
		key, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	default:
		t.Fatalf("testpki: unknown key type %q", kt)
	}
	if err != nil {
		t.Fatal(err)
	}
	v, _ := keyCache.LoadOrStore(k, key)
	return v.(crypto.Signer)
}

// CA is a test certificate authority.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Hierarchy is a root and an intermediate CA.
type Hierarchy struct {
	Root, Intermediate CA
}

// Leaf is an end-entity certificate with its key and chain (intermediates,
// leaf excluded).
type Leaf struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Options tunes a leaf certificate.
type Options struct {
	CommonName            string
	NotBefore             time.Time
	NotAfter              time.Time
	KeyUsage              x509.KeyUsage // default digitalSignature|contentCommitment
	ExtKeyUsage           []x509.ExtKeyUsage
	OCSPServer            []string
	CRLDistributionPoints []string
	Slot                  int // key slot, so two leaves can have distinct keys
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 80))
	if err != nil {
		t.Fatal(err)
	}
	return n.Add(n, big.NewInt(1))
}

func mustCreate(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// NewHierarchy makes a root (RSA-3072) and an intermediate (P-256), valid from
// an hour ago for ten years.
func NewHierarchy(t testing.TB) *Hierarchy {
	t.Helper()
	now := time.Now().Add(-time.Hour).Truncate(time.Second)
	rk := Key(t, RSA3072, 1000)
	root := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "SecureSign Test Root", Organization: []string{"SecureSign Test"}, Country: []string{"IN"}},
		NotBefore:             now,
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rc := mustCreate(t, root, root, rk.Public(), rk)
	ik := Key(t, P256, 1001)
	inter := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "SecureSign Test Sub-CA", Organization: []string{"SecureSign Test"}, Country: []string{"IN"}},
		NotBefore:             now,
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	ic := mustCreate(t, inter, rc, ik.Public(), rk)
	return &Hierarchy{Root: CA{rc, rk}, Intermediate: CA{ic, ik}}
}

// Issue makes a leaf signing certificate of key type kt under the
// intermediate.
func (h *Hierarchy) Issue(t testing.TB, kt KeyType, o Options) *Leaf {
	t.Helper()
	key := Key(t, kt, o.Slot)
	if o.CommonName == "" {
		o.CommonName = "Rajesh Kumar"
	}
	if o.NotBefore.IsZero() {
		o.NotBefore = time.Now().Add(-time.Hour).Truncate(time.Second)
	}
	if o.NotAfter.IsZero() {
		o.NotAfter = o.NotBefore.AddDate(2, 0, 0)
	}
	if o.KeyUsage == 0 {
		o.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: o.CommonName, Organization: []string{"Personal"}, Province: []string{"Karnataka"}, Country: []string{"IN"}},
		NotBefore:             o.NotBefore,
		NotAfter:              o.NotAfter,
		KeyUsage:              o.KeyUsage,
		ExtKeyUsage:           o.ExtKeyUsage,
		OCSPServer:            o.OCSPServer,
		CRLDistributionPoints: o.CRLDistributionPoints,
		BasicConstraintsValid: true,
	}
	c := mustCreate(t, tmpl, h.Intermediate.Cert, key.Public(), h.Intermediate.Key)
	return &Leaf{Cert: c, Key: key, Chain: []*x509.Certificate{h.Intermediate.Cert}}
}

// PEM encodes certificates as PEM blocks, in order.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// KeyPEM encodes a private key as PKCS#8 PEM.
func KeyPEM(t testing.TB, key crypto.Signer) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// WithNegativeSerial returns c re-issued by issuerKey with a negative serial
// number, as some CAs did. x509.CreateCertificate refuses to make one, so
// the TBSCertificate's serial is patched and signed again (SHA-256 with the
// issuer's key type).
func WithNegativeSerial(t testing.TB, c *x509.Certificate, issuerKey crypto.Signer) []byte {
	t.Helper()
	var cert struct {
		TBS asn1.RawValue
		Alg pkix.AlgorithmIdentifier
		Sig asn1.BitString
	}
	if _, err := asn1.Unmarshal(c.Raw, &cert); err != nil {
		t.Fatal(err)
	}
	tbs := append([]byte(nil), cert.TBS.FullBytes...)
	s := cryptobyte.String(tbs)
	var body, serial cryptobyte.String
	if !s.ReadASN1(&body, cbasn1.SEQUENCE) || !body.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !body.ReadASN1(&serial, cbasn1.INTEGER) {
		t.Fatal("testpki: cannot find the serial number")
	}
	serial[0] = 0x85 // negative, minimal (not 0xff)
	h := sha256.Sum256(tbs)
	sig, err := issuerKey.Sign(rand.Reader, h[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	cert.TBS = asn1.RawValue{FullBytes: tbs}
	cert.Sig = asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}
	der, err := asn1.Marshal(cert)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
