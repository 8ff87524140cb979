package signer

import (
	"bytes"
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"sync"
	"time"
)

// The PKCS#11 API of the package, the same in every build. The methods
// check their arguments here and call an implementation that talks to the
// module through miekg/pkcs11 (pkcs11*.go, which need cgo) or, in a build
// without cgo, report ErrPKCS11Unavailable (pkcs11_nocgo.go).

// Module is an opened PKCS#11 module (a token vendor's .so/.dll/.dylib).
// It is safe for concurrent use.
type Module struct {
	lib    *library
	once   sync.Once
	closed chan struct{}
}

// OpenModule loads and initializes the PKCS#11 module at path. Opening the
// same path twice shares one initialization; the module is finalized when
// the last Module and Signer using it are closed. A module that something
// else in the process initialized (crypto11, say) is used but never
// finalized.
//
// A build without cgo cannot load modules: there OpenModule returns an
// error wrapping [ErrPKCS11Unavailable].
func OpenModule(ctx context.Context, path string) (*Module, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if !pkcs11Built {
		return nil, fmt.Errorf("signer: cannot open PKCS#11 module %s: %w (rebuild with CGO_ENABLED=1 and a C compiler)", path, ErrPKCS11Unavailable)
	}
	if path == "" {
		return nil, errors.New("signer: no PKCS#11 module path given")
	}
	return openModule(path)
}

// Close releases the module. Signers made from it stay usable until they
// are closed themselves.
func (m *Module) Close() error {
	var err error
	m.once.Do(func() {
		if m.lib == nil { // a zero Module: nothing to release
			return
		}
		close(m.closed)
		err = m.lib.release()
	})
	return err
}

// errUnavailable reports that op needs PKCS#11, which this build lacks.
func errUnavailable(op string) error {
	return fmt.Errorf("signer: %s: %w", op, ErrPKCS11Unavailable)
}

func (m *Module) check(ctx context.Context) error {
	if m.lib == nil {
		if !pkcs11Built {
			return errUnavailable("using a PKCS#11 module")
		}
		return errors.New("signer: the Module was not made by OpenModule")
	}
	select {
	case <-m.closed:
		return errors.New("signer: module is closed")
	default:
	}
	return ctx.Err()
}

// TokenSelector chooses a token by label or serial (or both). Slot numbers
// are never used: they change when tokens are plugged in or out. The zero
// TokenSelector selects the only present token, if there is exactly one.
type TokenSelector struct {
	Label  string
	Serial string
}

func (s TokenSelector) String() string {
	switch {
	case s.Label != "" && s.Serial != "":
		return fmt.Sprintf("label %q serial %q", s.Label, s.Serial)
	case s.Serial != "":
		return fmt.Sprintf("serial %q", s.Serial)
	case s.Label != "":
		return fmt.Sprintf("label %q", s.Label)
	}
	return "(any)"
}

// TokenInfo describes a slot and the token in it.
type TokenInfo struct {
	Label        string `json:"label"`
	Serial       string `json:"serial"`
	Manufacturer string `json:"manufacturer"`
	Model        string `json:"model"`
	// SlotDescription is the reader's name, as the module reports it.
	SlotDescription string `json:"slotDescription"`
	// Present is false for an empty slot (a reader without a token).
	Present bool `json:"present"`
	// Initialized is false for a blank token.
	Initialized bool `json:"initialized"`
	// PINCountLow, PINFinalTry and PINLocked are the token's user PIN flags
	// (CKF_USER_PIN_COUNT_LOW, _FINAL_TRY, _LOCKED).
	PINCountLow bool `json:"pinCountLow"`
	PINFinalTry bool `json:"pinFinalTry"`
	PINLocked   bool `json:"pinLocked"`
	// PINToBeChanged is set when the token demands a new PIN first.
	PINToBeChanged bool `json:"pinToBeChanged"`
	// ProtectedAuthPath means the PIN is entered on the reader's pad.
	ProtectedAuthPath bool `json:"protectedAuthPath"`
	MinPINLen         int  `json:"minPinLen"`
	MaxPINLen         int  `json:"maxPinLen"`
	// TriesLeft is what the flags tell: 1 on the final try, 0 when
	// locked, -1 otherwise.
	TriesLeft int `json:"triesLeft"`

	//lint:ignore U1000 only the cgo build (pkcs11.go) has slots
	slot uint
}

// CertInfo is what a person needs to choose a certificate on a token.
type CertInfo struct {
	SubjectCN string    `json:"subjectCN"`
	IssuerCN  string    `json:"issuerCN"`
	SerialHex string    `json:"serialHex"` // upper-case hex, as openssl prints it
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	KeyUsage  []string  `json:"keyUsage"` // "digitalSignature", "nonRepudiation", …
	SHA256    string    `json:"sha256"`   // thumbprint of the DER, lower-case hex
	KeyType   string    `json:"keyType"`  // "RSA-2048", "ECDSA-P256", …
	IsCA      bool      `json:"isCA"`
	Label     string    `json:"label"` // CKA_LABEL
	ID        string    `json:"id"`    // CKA_ID, hex

	Certificate *x509.Certificate `json:"-"`
}

// NewCertInfo describes cert; label and id are the token object's.
func NewCertInfo(cert *x509.Certificate, label string, id []byte) CertInfo {
	sum := sha256.Sum256(cert.Raw)
	return CertInfo{
		SubjectCN:   cert.Subject.CommonName,
		IssuerCN:    cert.Issuer.CommonName,
		SerialHex:   FormatSerial(cert.SerialNumber),
		NotBefore:   cert.NotBefore,
		NotAfter:    cert.NotAfter,
		KeyUsage:    keyUsageNames(cert.KeyUsage),
		SHA256:      hex.EncodeToString(sum[:]),
		KeyType:     keyTypeName(cert.PublicKey),
		IsCA:        cert.IsCA,
		Label:       label,
		ID:          hex.EncodeToString(id),
		Certificate: cert,
	}
}

func keyUsageNames(ku x509.KeyUsage) []string {
	names := []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
		"keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	out := []string{}
	for i, n := range names {
		if ku&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// KeySelector chooses the key to sign with: by its certificate's serial
// (what `openssl x509 -serial` prints, parsed with ParseSerial) or SHA-256
// thumbprint, or by the private key's CKA_LABEL. Set one; the zero value
// selects the only key with a certificate, if there is exactly one.
type KeySelector struct {
	CertSerial *big.Int
	CertSHA256 []byte
	KeyLabel   string
}

func (k KeySelector) String() string {
	var parts []string
	if k.CertSerial != nil {
		parts = append(parts, "certificate serial "+FormatSerial(k.CertSerial))
	}
	if k.CertSHA256 != nil {
		parts = append(parts, "certificate SHA-256 "+hex.EncodeToString(k.CertSHA256))
	}
	if k.KeyLabel != "" {
		parts = append(parts, fmt.Sprintf("key label %q", k.KeyLabel))
	}
	if parts == nil {
		return "(any)"
	}
	return strings.Join(parts, ", ")
}

// Tokens lists every slot of the module, with its token when one is
// present. No login is needed.
func (m *Module) Tokens(ctx context.Context) ([]TokenInfo, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	return m.tokens()
}

// Certificates lists the X.509 certificates on the token sel selects,
// without logging in (DSC tokens keep certificates public). Certificates
// the token holds but Go cannot parse are skipped.
func (m *Module) Certificates(ctx context.Context, sel TokenSelector) ([]CertInfo, error) {
	if err := m.check(ctx); err != nil {
		return nil, err
	}
	return m.certificates(ctx, sel)
}

// Signer logs in to the token sel selects with pin and returns a Signer for
// the key ksel selects. A wrong PIN is always reported as a *PINError, even
// when this process is already logged in to the token. The Signer must be
// closed; it keeps the module loaded until then. For keys with
// CKA_ALWAYS_AUTHENTICATE the PIN is kept in memory (zeroed by Close) for
// the context-specific login each signature needs; otherwise it is not kept.
//
// PKCS#11 login state belongs to the whole process. When another Signer is
// logged in to the token, pin is compared (in constant time, as an HMAC)
// with the PIN that logged in, so a wrong PIN costs no token retry. When
// something other than this package (crypto11, say) logged the process in,
// Signer logs it out and in again with pin, so that a wrong PIN is never
// accepted; that other user then has to log in again.
func (m *Module) Signer(ctx context.Context, sel TokenSelector, ksel KeySelector, pin []byte) (Signer, error) {
	return m.openSigner(ctx, sel, ksel, pin)
}

// VerifyPIN logs in to the token sel selects with pin, as [Module.Signer]
// would, and releases the login again. A wrong PIN is a *PINError.
func (m *Module) VerifyPIN(ctx context.Context, sel TokenSelector, pin []byte) error {
	return m.verifyPIN(ctx, sel, pin)
}

// GenerateKey logs in to the token sel selects with pin and generates a key
// pair on it (CKM_RSA_PKCS_KEY_PAIR_GEN with e = 65537, or
// CKM_EC_KEY_PAIR_GEN). The private key is a token object with CKA_PRIVATE,
// CKA_SENSITIVE and CKA_SIGN set and CKA_EXTRACTABLE, CKA_DECRYPT,
// CKA_UNWRAP and CKA_DERIVE clear (a signing key only); the public key
// is a public token object with the same CKA_ID and CKA_LABEL. When the
// token does not honour that template the pair is destroyed and an error
// returned. Store the certificate later with [Module.ImportCertificate];
// until then use the key through [Module.KeySigner].
func (m *Module) GenerateKey(ctx context.Context, sel TokenSelector, pin []byte, req KeyGenRequest) (_ *GeneratedKey, err error) {
	spec, err := parseKeyGenType(req.KeyType)
	if err != nil {
		return nil, err
	}
	id := bytes.Clone(req.ID)
	if id == nil {
		id = make([]byte, 16)
		if _, err := io.ReadFull(rand.Reader, id); err != nil {
			return nil, err
		}
	} else if len(id) == 0 {
		return nil, errors.New("signer: empty CKA_ID requested")
	}
	label := req.Label
	if label == "" {
		label = "securesign-" + hex.EncodeToString(id)
	}
	return m.generateKey(ctx, sel, pin, spec, id, label)
}

// KeySigner logs in to the token sel selects with pin and returns the
// private key with CKA_ID id, for signing before a certificate for it is
// on the token. Close it when done. Errors are as for [Module.Signer]; an
// unknown id wraps ErrKeyNotFound.
func (m *Module) KeySigner(ctx context.Context, sel TokenSelector, pin []byte, id []byte) (KeySigner, error) {
	return m.keySignerByID(ctx, sel, pin, id)
}

// ImportCertificate logs in to the token sel selects with pin and stores
// cert on it as a public CKO_CERTIFICATE object with CKA_ID id and
// CKA_LABEL label (empty: the private key's label), so that [Module.Signer]
// finds key and certificate by the certificate's serial or thumbprint. The
// private key with that ID must be on the token and match cert's public key
// (ErrKeyNotFound otherwise). A nil id stores a CA certificate (cert.IsCA)
// of the chain, which Signers add to Chain. Storing a certificate the
// token already has is a no-op.
func (m *Module) ImportCertificate(ctx context.Context, sel TokenSelector, pin []byte, id []byte, label string, cert *x509.Certificate) (err error) {
	if cert == nil {
		return errors.New("signer: ImportCertificate needs a certificate")
	}
	if id == nil && !cert.IsCA {
		return fmt.Errorf("%w: no key ID given for end-entity certificate %s", ErrKeyNotFound, FormatSerial(cert.SerialNumber))
	}
	return m.importCertificate(ctx, sel, pin, id, label, cert)
}

// KeyGenRequest describes a key pair to generate on a token.
type KeyGenRequest struct {
	// KeyType is "RSA-2048", "RSA-3072", "RSA-4096", "ECDSA-P256" or
	// "ECDSA-P384" (the names CertInfo.KeyType uses; case-insensitive).
	KeyType string
	// Label is the CKA_LABEL of both keys; empty means "securesign-" and
	// the hex of the ID.
	Label string
	// ID is the CKA_ID; nil means 16 random bytes. It must not be in use
	// on the token.
	ID []byte
}

// GeneratedKey is a key pair made by [Module.GenerateKey]. The private key
// stays on the token.
type GeneratedKey struct {
	ID      []byte           // CKA_ID of the private and public key objects
	Label   string           // CKA_LABEL of both
	KeyType string           // as in KeyGenRequest, canonical spelling
	Public  crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
}

// KeySigner is a private key on a token used by its CKA_ID, without a
// certificate: to sign a CSR, or as a CA's issuing key before its
// certificate exists. Like a Signer it verifies every signature (with the
// token's public key object) and must be closed.
type KeySigner interface {
	crypto.Signer
	// ID returns the key's CKA_ID.
	ID() []byte
	Close() error
}

// keyGenSpec is one supported key type.
type keyGenSpec struct {
	name  string
	bits  int            // RSA
	curve elliptic.Curve // EC
}

func parseKeyGenType(s string) (keyGenSpec, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "RSA-2048":
		return keyGenSpec{name: "RSA-2048", bits: 2048}, nil
	case "RSA-3072":
		return keyGenSpec{name: "RSA-3072", bits: 3072}, nil
	case "RSA-4096":
		return keyGenSpec{name: "RSA-4096", bits: 4096}, nil
	case "ECDSA-P256":
		return keyGenSpec{name: "ECDSA-P256", curve: elliptic.P256()}, nil
	case "ECDSA-P384":
		return keyGenSpec{name: "ECDSA-P384", curve: elliptic.P384()}, nil
	}
	return keyGenSpec{}, fmt.Errorf("%w: key type %q (want RSA-2048, RSA-3072, RSA-4096, ECDSA-P256 or ECDSA-P384)", ErrUnsupportedAlgorithm, s)
}
