package pki_test

import (
	"bytes"
	"crypto/x509"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
)

// TestParseCertificateNegativeSerial: a root and a leaf with negative serial
// numbers (made in the test) parse without GODEBUG, keep their original
// bytes and serial, and build a chain.
func TestParseCertificateNegativeSerial(t *testing.T) {
	h := testpki.NewHierarchy(t)
	leaf := h.Issue(t, testpki.P256, testpki.Options{CommonName: "Negative Serial"})
	rootDER := testpki.WithNegativeSerial(t, h.Root.Cert, h.Root.Key)
	leafDER := testpki.WithNegativeSerial(t, leaf.Cert, h.Intermediate.Key)

	if _, err := x509.ParseCertificate(leafDER); err == nil {
		t.Log("x509.ParseCertificate accepts negative serials here (GODEBUG x509negativeserial=1?)")
	}
	for name, der := range map[string][]byte{"root": rootDER, "leaf": leafDER} {
		c, err := pki.ParseCertificate(der)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !pki.NegativeSerial(c) || c.SerialNumber.Sign() >= 0 {
			t.Errorf("%s: serial %v, want negative", name, c.SerialNumber)
		}
		if !bytes.Equal(c.Raw, der) || !bytes.Contains(der, c.RawTBSCertificate) {
			t.Errorf("%s: Raw/RawTBSCertificate are not the original bytes", name)
		}
	}
	root, _ := pki.ParseCertificate(rootDER)
	if err := root.CheckSignatureFrom(root); err != nil {
		t.Fatalf("root self-signature over the original TBS: %v", err)
	}
	lc, _ := pki.ParseCertificate(leafDER)
	roots := x509.NewCertPool()
	roots.AddCert(root)
	inter := x509.NewCertPool()
	inter.AddCert(h.Intermediate.Cert)
	if _, err := lc.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: time.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("chain: %v", err)
	}
	// a tampered negative-serial certificate is not rescued
	bad := append([]byte(nil), leafDER...)
	bad[len(bad)-80] ^= 1
	if c, err := pki.ParseCertificate(bad); err == nil {
		if c.CheckSignatureFrom(h.Intermediate.Cert) == nil {
			t.Fatal("tampered certificate verifies")
		}
	}
	// PEM trust files
	certs, err := pki.ParseCertificates(testpki.PEM(root))
	if err != nil || len(certs) != 1 || !pki.NegativeSerial(certs[0]) {
		t.Fatalf("ParseCertificates: %v", err)
	}
	// other errors stay errors
	if _, err := pki.ParseCertificate(leafDER[:len(leafDER)-5]); err == nil {
		t.Fatal("truncated certificate parsed")
	}
}

func FuzzParseCertificate(f *testing.F) {
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x80})
	f.Fuzz(func(t *testing.T, der []byte) {
		c, err := pki.ParseCertificate(der)
		if err == nil && !bytes.Equal(c.Raw, der[:len(c.Raw)]) {
			t.Fatal("Raw is not the input")
		}
	})
}
