package pdf

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf/internal/syntax"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// vriEntries returns the DSS /VRI entries of the last revision, each as
// the bytes of its value written by syntax (same value, same bytes).
func vriEntries(t *testing.T, doc []byte) map[syntax.Name]syntax.Object {
	t.Helper()
	f, err := syntax.Open(context.Background(), bytes.NewReader(doc), int64(len(doc)), syntax.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	last := len(f.Revisions) - 1
	cat, _ := f.ResolveDict(last, f.Revisions[last].Trailer["Root"])
	dss, _ := f.ResolveDict(last, cat["DSS"])
	vri, _ := f.ResolveDict(last, dss["VRI"])
	out := map[syntax.Name]syntax.Object{}
	for k, e := range vri {
		d, _ := f.Resolve(last, e)
		out[k] = d
		if dd, ok := d.(syntax.Dict); ok {
			for _, key := range []syntax.Name{"Cert", "OCSP", "CRL"} {
				arr, _ := f.Resolve(last, dd[key])
				a, _ := arr.(syntax.Array)
				seen := map[syntax.Ref]bool{}
				for _, x := range a {
					if r, ok := x.(syntax.Ref); ok {
						if seen[r] {
							t.Errorf("VRI %s /%s lists %v twice", k, key, r)
						}
						seen[r] = true
					}
				}
			}
		}
	}
	return out
}

// TestExtendAppendsVRI: B-LT, then another B-LT, then Extend to B-LTA:
// every VRI entry of the earlier revisions is unchanged in the last one,
// and no array lists an object twice.
func TestExtendAppendsVRI(t *testing.T) {
	p := getPKI(t)
	tsa := &pki.TSAClient{URL: tsaServer(t, p)}
	rev := fakeRevocation{p}
	extra := []*x509.Certificate{p.h.Root.Cert}
	lt := SignOptions{Level: LevelBLT, Timestamper: tsa, Revocation: rev, ExtraCertificates: extra}
	first := signCAdES(t, baseDoc(), p.leaf, lt)
	second := signCAdES(t, first, p.leaf2, lt)
	before := vriEntries(t, second)
	if len(before) < 2 {
		t.Fatalf("%d VRI entries after two B-LT signatures", len(before))
	}
	if e1 := vriEntries(t, first); len(e1) == 0 {
		t.Fatal("no VRI after the first B-LT")
	} else {
		for k, v := range e1 {
			if !syntax.Equal(v, before[k]) {
				t.Errorf("the second B-LT rewrote VRI %s", k)
			}
		}
	}
	var out bytes.Buffer
	if err := Extend(context.Background(), &out, bytes.NewReader(second), int64(len(second)), LevelBLTA, lt); err != nil {
		t.Fatal(err)
	}
	after := vriEntries(t, out.Bytes())
	for k, v := range before {
		if !syntax.Equal(v, after[k]) {
			t.Errorf("Extend rewrote VRI %s:\n%v\n%v", k, v, after[k])
		}
	}
	if rep := mustVerify(t, out.Bytes()); !rep.Valid {
		t.Fatalf("extended document: %s", dumpReport(rep))
	}
}

// revokedRevocation answers "revoked" for the leaf.
type revokedRevocation struct {
	fakeRevocation
	leaf *x509.Certificate
}

func (r revokedRevocation) Check(ctx context.Context, cert, issuer *x509.Certificate) (*pki.RevocationStatus, error) {
	st, err := r.fakeRevocation.Check(ctx, cert, issuer)
	if err == nil && cert.Equal(r.leaf) {
		st.State, st.RevokedAt = pki.StateRevoked, time.Now().Add(-time.Hour)
	}
	return st, err
}

// TestSignRevokedRefused: at B-LT the revocation data in hand says the
// certificate is revoked: ErrCertificateRevoked, nothing written.
func TestSignRevokedRefused(t *testing.T) {
	p := getPKI(t)
	tsa := &pki.TSAClient{URL: tsaServer(t, p)}
	leaf := p.h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Revoked Signer", Slot: 9})
	opts := SignOptions{Level: LevelBLT, Timestamper: tsa, Revocation: revokedRevocation{fakeRevocation{p}, leaf.Cert}, ExtraCertificates: []*x509.Certificate{p.h.Root.Cert}}
	s, err := signer.NewSoftware(leaf.Key, leaf.Cert, leaf.Chain)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	doc := baseDoc()
	err = Sign(context.Background(), &out, bytes.NewReader(doc), int64(len(doc)), s, opts)
	if !errors.Is(err, ErrCertificateRevoked) {
		t.Fatalf("err = %v, want ErrCertificateRevoked", err)
	}
	// Extend of a document signed before the revocation is refused too
	good := signCAdES(t, doc, leaf, SignOptions{Level: LevelBT, Timestamper: tsa})
	out.Reset()
	if err := Extend(context.Background(), &out, bytes.NewReader(good), int64(len(good)), LevelBLT, opts); !errors.Is(err, ErrCertificateRevoked) {
		t.Fatalf("Extend: err = %v, want ErrCertificateRevoked", err)
	}
}
