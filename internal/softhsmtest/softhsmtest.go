//go:build cgo

// Package softhsmtest makes throwaway SoftHSM2 tokens for tests: a fresh
// token in t.TempDir() with its own configuration, and a way to import keys
// and certificates onto it as a DSC vendor's tool would.
//
// SoftHSM reads SOFTHSM2_CONF when the module is initialized, so a test
// must close every PKCS#11 module it opened on an earlier token before it
// uses a new one.
package softhsmtest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os/exec"
	"regexp"
	"testing"

	"github.com/miekg/pkcs11"

	"github.com/securesign/securesign/internal/softhsm"
	"github.com/securesign/securesign/internal/testenv"
)

// Token is a fresh SoftHSM2 token.
type Token struct {
	Module string // path of libsofthsm2.so
	Label  string // token label
	Serial string // token serial, as the token reports it
	PIN    string // user PIN
	SOPIN  string // security officer PIN
	Dir    string // holds softhsm2.conf and the token files
	Conf   string // path of softhsm2.conf, also in $SOFTHSM2_CONF
}

// New initializes a fresh token labelled "securesign-test" (user PIN
// "1234", SO PIN "12345678") in a temporary directory and points
// SOFTHSM2_CONF at it for the rest of the test. It skips t (fails under
// CI=true) when SoftHSM2 is not installed.
func New(t testing.TB) *Token {
	t.Helper()
	return NewLabeled(t, "securesign-test")
}

// NewLabeled is New with a chosen token label (at most 32 bytes).
func NewLabeled(t testing.TB, label string) *Token {
	t.Helper()
	module := testenv.File(t, testenv.SoftHSMModule, "softhsm2")
	util := testenv.LookPath(t, "softhsm2-util", "softhsm2")
	dir := t.TempDir()
	tok := &Token{Module: module, Label: label, PIN: "1234", SOPIN: "12345678", Dir: dir}
	conf, err := softhsm.InitToken(context.Background(), util, dir, label, tok.SOPIN, tok.PIN)
	if err != nil {
		t.Fatal(err)
	}
	tok.Conf = conf
	t.Setenv("SOFTHSM2_CONF", tok.Conf)
	out, err := exec.Command(util, "--show-slots").CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --show-slots: %v\n%s", err, out)
	}
	// Slots are listed in order; the initialized one carries our label.
	re := regexp.MustCompile(`(?s)Serial number:\s*([0-9a-fA-F]+)\s+Initialized:\s*yes.*?Label:\s*` + regexp.QuoteMeta(label) + `\s*\n`)
	m := re.FindSubmatch(out)
	if m == nil {
		t.Fatalf("softhsm2-util --show-slots does not list token %q:\n%s", label, out)
	}
	tok.Serial = string(m[1])
	return tok
}

// ImportOptions tunes Import.
type ImportOptions struct {
	// ID is the CKA_ID shared by the key pair and certificate; default: the
	// first 8 bytes of SHA-256 of the public key.
	ID []byte
	// AlwaysAuthenticate sets CKA_ALWAYS_AUTHENTICATE on the private key,
	// so every signature needs a context-specific login.
	AlwaysAuthenticate bool
	// NoPrivateKey leaves out the private key (a certificate whose key is
	// missing), NoCertificate the certificate.
	NoPrivateKey, NoCertificate bool
}

// Import puts key (RSA or ECDSA), its public key and cert on the token under
// label with the same CKA_ID, as DSC vendors' tools do. The private key is
// sensitive and not extractable.
func (tok *Token) Import(t testing.TB, label string, key crypto.Signer, cert *x509.Certificate) []byte {
	t.Helper()
	return tok.ImportWith(t, label, key, cert, ImportOptions{})
}

// ImportWith is Import with options; it returns the CKA_ID used.
func (tok *Token) ImportWith(t testing.TB, label string, key crypto.Signer, cert *x509.Certificate, o ImportOptions) []byte {
	t.Helper()
	id := o.ID
	if id == nil {
		spki, err := x509.MarshalPKIXPublicKey(key.Public())
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(spki)
		id = sum[:8]
	}
	var objs [][]*pkcs11.Attribute
	common := func(class uint) []*pkcs11.Attribute {
		return []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_CLASS, class),
			pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
			pkcs11.NewAttribute(pkcs11.CKA_ID, id),
			pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		}
	}
	priv := append(common(pkcs11.CKO_PRIVATE_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true),
		pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
		pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
		pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ALWAYS_AUTHENTICATE, o.AlwaysAuthenticate))
	pub := append(common(pkcs11.CKO_PUBLIC_KEY),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true))
	switch k := key.(type) {
	case *rsa.PrivateKey:
		k.Precompute()
		priv = append(priv,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE_EXPONENT, k.D.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_1, k.Primes[0].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PRIME_2, k.Primes[1].Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_1, k.Precomputed.Dp.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_EXPONENT_2, k.Precomputed.Dq.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_COEFFICIENT, k.Precomputed.Qinv.Bytes()))
		pub = append(pub,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_RSA),
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, k.N.Bytes()),
			pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, big.NewInt(int64(k.E)).Bytes()))
	case *ecdsa.PrivateKey:
		params, err := curveParams(k.Curve)
		if err != nil {
			t.Fatal(err)
		}
		ecdh, err := k.PublicKey.ECDH()
		if err != nil {
			t.Fatal(err)
		}
		point, err := asn1.Marshal(ecdh.Bytes()) // CKA_EC_POINT is a DER OCTET STRING
		if err != nil {
			t.Fatal(err)
		}
		scalar, err := k.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		priv = append(priv,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, scalar))
		pub = append(pub,
			pkcs11.NewAttribute(pkcs11.CKA_KEY_TYPE, pkcs11.CKK_EC),
			pkcs11.NewAttribute(pkcs11.CKA_EC_PARAMS, params),
			pkcs11.NewAttribute(pkcs11.CKA_EC_POINT, point))
	default:
		t.Fatalf("softhsmtest: cannot import a %T", key)
	}
	if !o.NoPrivateKey {
		objs = append(objs, priv)
	}
	objs = append(objs, pub)
	if !o.NoCertificate && cert != nil {
		serial, err := asn1.Marshal(cert.SerialNumber)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, append(common(pkcs11.CKO_CERTIFICATE),
			pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
			pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
			pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
			pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
			pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
			pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial)))
	}
	if err := tok.withSession(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		for _, attrs := range objs {
			if _, err := ctx.CreateObject(sh, attrs); err != nil {
				return fmt.Errorf("C_CreateObject: %w", err)
			}
		}
		return nil
	}); err != nil {
		t.Fatalf("softhsmtest: importing %q: %v", label, err)
	}
	return id
}

func curveParams(c elliptic.Curve) ([]byte, error) {
	var oid asn1.ObjectIdentifier
	switch c {
	case elliptic.P256():
		oid = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	case elliptic.P384():
		oid = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
	case elliptic.P521():
		oid = asn1.ObjectIdentifier{1, 3, 132, 0, 35}
	default:
		return nil, fmt.Errorf("unsupported curve %s", c.Params().Name)
	}
	return asn1.Marshal(oid)
}

// withSession runs f in a logged-in read/write session on the token. It
// initializes the module itself and finalizes it afterwards, unless
// something else in the process already had it initialized.
func (tok *Token) withSession(f func(*pkcs11.Ctx, pkcs11.SessionHandle) error) error {
	ctx := pkcs11.New(tok.Module)
	if ctx == nil {
		return fmt.Errorf("cannot load %s", tok.Module)
	}
	ours := true
	if err := ctx.Initialize(); err != nil {
		if !errors.Is(err, pkcs11.Error(pkcs11.CKR_CRYPTOKI_ALREADY_INITIALIZED)) {
			ctx.Destroy()
			return fmt.Errorf("C_Initialize: %w", err)
		}
		ours = false
	}
	defer func() {
		if ours {
			_ = ctx.Finalize()
		}
		ctx.Destroy()
	}()
	slot, err := tok.slot(ctx)
	if err != nil {
		return err
	}
	sh, err := ctx.OpenSession(slot, pkcs11.CKF_SERIAL_SESSION|pkcs11.CKF_RW_SESSION)
	if err != nil {
		return fmt.Errorf("C_OpenSession: %w", err)
	}
	defer func() { _ = ctx.CloseSession(sh) }()
	if err := ctx.Login(sh, pkcs11.CKU_USER, tok.PIN); err != nil && !errors.Is(err, pkcs11.Error(pkcs11.CKR_USER_ALREADY_LOGGED_IN)) {
		return fmt.Errorf("C_Login: %w", err)
	}
	// No C_Logout: the login state is shared by the whole process, and a
	// signer under test may be logged in through another session. Closing
	// our session does not log it out.
	return f(ctx, sh)
}

func (tok *Token) slot(ctx *pkcs11.Ctx) (uint, error) {
	slots, err := ctx.GetSlotList(true)
	if err != nil {
		return 0, fmt.Errorf("C_GetSlotList: %w", err)
	}
	for _, s := range slots {
		ti, err := ctx.GetTokenInfo(s)
		if err == nil && ti.SerialNumber == tok.Serial {
			return s, nil
		}
	}
	return 0, fmt.Errorf("token %q (serial %s) not found: was the module initialized with another SOFTHSM2_CONF?", tok.Label, tok.Serial)
}

// GenerateKey makes an RSA key pair of the given bits on the token itself
// (CKM_RSA_PKCS_KEY_PAIR_GEN; private, sensitive, not extractable) and
// returns its public key; id and label as in Import. It bypasses package
// signer on purpose (which has signer.Module.GenerateKey, the production
// path), so that signer's own tests can use it without an import cycle.
func (tok *Token) GenerateKey(t testing.TB, label string, id []byte, bits int) *rsa.PublicKey {
	t.Helper()
	var pub *rsa.PublicKey
	err := tok.withSession(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		pubH, _, err := ctx.GenerateKeyPair(sh, []*pkcs11.Mechanism{pkcs11.NewMechanism(pkcs11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_VERIFY, true),
				pkcs11.NewAttribute(pkcs11.CKA_MODULUS_BITS, bits), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
				pkcs11.NewAttribute(pkcs11.CKA_ID, id), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			},
			[]*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true), pkcs11.NewAttribute(pkcs11.CKA_SIGN, true),
				pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, true), pkcs11.NewAttribute(pkcs11.CKA_SENSITIVE, true),
				pkcs11.NewAttribute(pkcs11.CKA_EXTRACTABLE, false),
				pkcs11.NewAttribute(pkcs11.CKA_ID, id), pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
			})
		if err != nil {
			return fmt.Errorf("C_GenerateKeyPair: %w", err)
		}
		attrs, err := ctx.GetAttributeValue(sh, pubH, []*pkcs11.Attribute{
			pkcs11.NewAttribute(pkcs11.CKA_MODULUS, nil), pkcs11.NewAttribute(pkcs11.CKA_PUBLIC_EXPONENT, nil)})
		if err != nil {
			return err
		}
		pub = &rsa.PublicKey{N: new(big.Int).SetBytes(attrs[0].Value), E: int(new(big.Int).SetBytes(attrs[1].Value).Int64())}
		return nil
	})
	if err != nil {
		t.Fatalf("softhsmtest: generating %q: %v", label, err)
	}
	return pub
}

// Objects returns "class:label:hex(id)" for every object on the token, as
// seen after login, for assertions and debugging.
func (tok *Token) Objects(t testing.TB) []string {
	t.Helper()
	var out []string
	err := tok.withSession(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		if err := ctx.FindObjectsInit(sh, nil); err != nil {
			return err
		}
		hs, _, err := ctx.FindObjects(sh, 1000)
		_ = ctx.FindObjectsFinal(sh)
		if err != nil {
			return err
		}
		for _, h := range hs {
			a, err := ctx.GetAttributeValue(sh, h, []*pkcs11.Attribute{
				pkcs11.NewAttribute(pkcs11.CKA_CLASS, nil), pkcs11.NewAttribute(pkcs11.CKA_LABEL, nil), pkcs11.NewAttribute(pkcs11.CKA_ID, nil)})
			if err != nil {
				return err
			}
			class := map[uint]string{pkcs11.CKO_PRIVATE_KEY: "privkey", pkcs11.CKO_PUBLIC_KEY: "pubkey", pkcs11.CKO_CERTIFICATE: "cert"}[uint(new(big.Int).SetBytes(reverse(a[0].Value)).Uint64())]
			out = append(out, class+":"+string(a[1].Value)+":"+hex.EncodeToString(a[2].Value))
		}
		return nil
	})
	if err != nil {
		t.Fatalf("softhsmtest: listing objects: %v", err)
	}
	return out
}

// reverse turns a little-endian CK_ULONG into big-endian bytes.
func reverse(b []byte) []byte {
	r := bytes.Clone(b)
	for i, j := 0, len(r)-1; i < j; i, j = i+1, j-1 {
		r[i], r[j] = r[j], r[i]
	}
	return r
}

// ImportCert puts a certificate alone on the token (a CA certificate, as
// DSC tokens carry their issuer chain).
func (tok *Token) ImportCert(t testing.TB, label string, cert *x509.Certificate, id []byte) {
	t.Helper()
	serial, err := asn1.Marshal(cert.SerialNumber)
	if err != nil {
		t.Fatal(err)
	}
	attrs := []*pkcs11.Attribute{
		pkcs11.NewAttribute(pkcs11.CKA_CLASS, pkcs11.CKO_CERTIFICATE),
		pkcs11.NewAttribute(pkcs11.CKA_TOKEN, true),
		pkcs11.NewAttribute(pkcs11.CKA_ID, id),
		pkcs11.NewAttribute(pkcs11.CKA_LABEL, label),
		pkcs11.NewAttribute(pkcs11.CKA_CERTIFICATE_TYPE, pkcs11.CKC_X_509),
		pkcs11.NewAttribute(pkcs11.CKA_PRIVATE, false),
		pkcs11.NewAttribute(pkcs11.CKA_VALUE, cert.Raw),
		pkcs11.NewAttribute(pkcs11.CKA_SUBJECT, cert.RawSubject),
		pkcs11.NewAttribute(pkcs11.CKA_ISSUER, cert.RawIssuer),
		pkcs11.NewAttribute(pkcs11.CKA_SERIAL_NUMBER, serial),
	}
	if err := tok.withSession(func(ctx *pkcs11.Ctx, sh pkcs11.SessionHandle) error {
		_, err := ctx.CreateObject(sh, attrs)
		return err
	}); err != nil {
		t.Fatalf("softhsmtest: importing certificate %q: %v", label, err)
	}
}
