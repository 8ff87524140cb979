package pdf

import (
	"context"
	"crypto/x509"
	"path/filepath"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pki"
)

// TestTSAAndResponderTrust: VerifyOptions.TSARoots and TSACertificates
// separate timestamp trust from signer trust, and OCSPResponders pins the
// responders of an issuer. One B-LTA file (signature timestamp, DSS with
// OCSP answers from the CA's delegated responder, document timestamp) is
// judged under each setting.
func TestTSAAndResponderTrust(t *testing.T) {
	ctx := context.Background()
	srv, hier, ca, s := servedCA(t, "TSA Trust")
	out := filepath.Join(t.TempDir(), "out.pdf")
	if err := SignFile(ctx, sgInput(t, "forms"), out, s, SignOptions{Level: LevelBLTA, Timestamper: &pki.TSAClient{URL: srv.URL + "/tsa"},
		Revocation: pki.NewRevocationChecker(pki.RevocationOptions{Timeout: 5 * time.Second}), ExtraCertificates: []*x509.Certificate{hier.Root}}); err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(hier.Root)
	other := x509.NewCertPool()
	other.AddCert(testpki.NewHierarchy(t).Root.Cert)
	tsaCert := ca.TSASigner().Certificate()
	responder := ca.OCSPSigner().Certificate()
	for _, tc := range []struct {
		name       string
		opts       VerifyOptions
		level      string // of the signature
		revocation string
		tsTrusted  bool // the document timestamp's chain
	}{
		{"Roots serve for TSAs (as before)", VerifyOptions{}, "B-LTA", "good", true},
		{"TSA pinned", VerifyOptions{TSACertificates: []*x509.Certificate{tsaCert}}, "B-LTA", "good", true},
		{"TSA under TSARoots", VerifyOptions{TSARoots: roots}, "B-LTA", "good", true},
		{"TSA not among the TSA anchors", VerifyOptions{TSARoots: other}, "B-B", "good", false},
		{"responder pinned", VerifyOptions{OCSPResponders: pki.PinResponders(hier.Issuing, responder)}, "B-LTA", "good", true},
		// Its answers do not count: the leaf's status is unknown offline.
		{"responder not pinned", VerifyOptions{OCSPResponders: pki.PinResponders(hier.Issuing)}, "B-T", "unknown", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.opts
			o.Roots = roots
			rep, err := VerifyFile(ctx, out, o)
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Signatures) != 2 {
				t.Fatalf("%d signatures", len(rep.Signatures))
			}
			sig, ts := rep.Signatures[0], rep.Signatures[1]
			if sig.Level != tc.level || sig.Revocation != tc.revocation {
				t.Errorf("signature: level %q revocation %q, want %q %q; %v", sig.Level, sig.Revocation, tc.level, tc.revocation, sig.Messages)
			}
			if (ts.Chain == "trusted") != tc.tsTrusted {
				t.Errorf("document timestamp chain %q, trusted want %t; %v", ts.Chain, tc.tsTrusted, ts.Messages)
			}
			if !tc.tsTrusted && sig.Indication == TotalPassed && sig.Level != "B-B" {
				t.Errorf("an untrusted TSA's time was used: %+v", sig)
			}
		})
	}
}

func TestTSARoots(t *testing.T) {
	a, b := testpki.NewHierarchy(t), testpki.NewHierarchy(t)
	la := a.Issue(t, testpki.P256, testpki.Options{Slot: 1, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	lb := b.Issue(t, testpki.P256, testpki.Options{Slot: 2, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}})
	signerRoots := x509.NewCertPool()
	tsaPool := x509.NewCertPool()
	tsaPool.AddCert(b.Root.Cert)
	for _, tc := range []struct {
		name string
		o    VerifyOptions
		leaf *x509.Certificate
		want string // "signer", "pinned", "tsa", "error"
	}{
		{"nothing set: Roots", VerifyOptions{Roots: signerRoots}, la.Cert, "signer"},
		{"pinned", VerifyOptions{Roots: signerRoots, TSACertificates: []*x509.Certificate{la.Cert}}, la.Cert, "pinned"},
		{"pinned only, another TSA", VerifyOptions{Roots: signerRoots, TSACertificates: []*x509.Certificate{la.Cert}}, lb.Cert, "error"},
		{"TSARoots", VerifyOptions{Roots: signerRoots, TSARoots: tsaPool, TSACertificates: []*x509.Certificate{la.Cert}}, lb.Cert, "tsa"},
	} {
		p, err := tsaRoots(tc.o, tc.leaf)
		got := "error"
		switch {
		case err != nil:
		case p == signerRoots:
			got = "signer"
		case p == tsaPool:
			got = "tsa"
		default:
			got = "pinned"
		}
		if got != tc.want {
			t.Errorf("%s: %s (%v)", tc.name, got, err)
		}
	}
}
