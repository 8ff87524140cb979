package pdf

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"golang.org/x/crypto/ocsp"

	"github.com/securesign/securesign/internal/testpki"
	"github.com/securesign/securesign/pdf/internal/syntax"
)

// addDSSWith appends a DSS holding the given OCSP responses.
func addDSSWith(t testing.TB, doc []byte, ocsps ...[]byte) []byte {
	t.Helper()
	f, err := syntax.Open(t.Context(), bytes.NewReader(doc), int64(len(doc)), syntax.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	last := len(f.Revisions) - 1
	rootRef := f.Revisions[last].Trailer["Root"].(syntax.Ref)
	cat, _ := f.ResolveDict(last, rootRef)
	_, _, size := lastXref(t, doc)
	objs := map[int]string{}
	cat2 := syntax.Dict{}
	for k, v := range cat {
		cat2[k] = v
	}
	dssN := int(size)
	cat2["DSS"] = syntax.Ref{Num: uint32(dssN)}
	objs[int(rootRef.Num)] = syntax.Format(cat2)
	refs := ""
	for i, der := range ocsps {
		n := dssN + 1 + i
		refs += fmt.Sprintf("%d 0 R ", n)
		objs[n] = fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(der), der)
	}
	objs[dssN] = fmt.Sprintf("<< /Type /DSS /OCSPs [%s] >>", refs)
	return appendUpdate(t, doc, vUpdate{objs: objs})
}

func ocspFor(t testing.TB, p *testPKI, cert *x509.Certificate, status int, revokedAt time.Time) []byte {
	t.Helper()
	issuer := p.h.Intermediate
	if cert.Equal(p.h.Intermediate.Cert) {
		issuer = p.h.Root
	}
	now := time.Now().Add(-time.Minute).Truncate(time.Second)
	der, err := ocsp.CreateResponse(issuer.Cert, issuer.Cert, ocsp.Response{
		Status: status, SerialNumber: cert.SerialNumber, ThisUpdate: now, NextUpdate: now.Add(time.Hour),
		RevokedAt: revokedAt, RevocationReason: ocsp.KeyCompromise,
	}, issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestChainOutcomes(t *testing.T) {
	p := getPKI(t)
	tsa := tsaServer(t, p)
	expired := p.h.Issue(t, testpki.RSA2048, testpki.Options{CommonName: "Expired Signer",
		NotBefore: time.Now().AddDate(-3, 0, 0), NotAfter: time.Now().AddDate(-1, 0, 0)})
	plain := signWithPdfsign(t, baseDoc(), pdfsignOpts{})
	stamped := signWithPdfsign(t, baseDoc(), pdfsignOpts{tsaURL: tsa})
	interGood := ocspFor(t, p, p.h.Intermediate.Cert, ocsp.Good, time.Time{})
	cases := []struct {
		name                   string
		doc                    []byte
		roots                  *x509.CertPool
		ind, sub, chain, revoc string
	}{
		{"untrusted-root", plain, x509.NewCertPool(), Indeterminate, SubNoCertificateChainFound, "untrusted", "not-checked"},
		{"no-roots", plain, nil, Indeterminate, SubNoCertificateChainFound, "untrusted", "not-checked"},
		{"expired-no-timestamp", signWithPdfsign(t, baseDoc(), pdfsignOpts{leaf: expired}), p.roots, Indeterminate, SubOutOfBoundsNoPOE, "expired", "not-checked"},
		{"embedded-ocsp-good", addDSSWith(t, plain, ocspFor(t, p, p.leaf.Cert, ocsp.Good, time.Time{}), interGood), p.roots, TotalPassed, "", "trusted", "good"},
		{"revoked-no-timestamp", addDSSWith(t, plain, ocspFor(t, p, p.leaf.Cert, ocsp.Revoked, time.Now().Add(-time.Hour))), p.roots, Indeterminate, SubRevokedNoPOE, "trusted", "revoked"},
		{"revoked-before-timestamp", addDSSWith(t, stamped, ocspFor(t, p, p.leaf.Cert, ocsp.Revoked, time.Now().Add(-time.Hour))), p.roots, TotalFailed, SubRevoked, "trusted", "revoked"},
		{"revoked-after-timestamp", addDSSWith(t, stamped, ocspFor(t, p, p.leaf.Cert, ocsp.Revoked, time.Now().Add(time.Hour)), interGood), p.roots, TotalPassed, "", "trusted", "good"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rep, err := verifyBytes(t, tc.doc, VerifyOptions{Roots: tc.roots, Intermediates: []*x509.Certificate{p.h.Intermediate.Cert}})
			if err != nil {
				t.Fatal(err)
			}
			s := rep.Signatures[0]
			if s.Indication != tc.ind || s.SubIndication != tc.sub || s.Chain != tc.chain || s.Revocation != tc.revoc {
				t.Fatalf("got %s/%s chain=%s revocation=%s, want %s/%s %s %s\n%s", s.Indication, s.SubIndication, s.Chain, s.Revocation,
					tc.ind, tc.sub, tc.chain, tc.revoc, dumpReport(rep))
			}
			if rep.Valid != (tc.ind == TotalPassed) {
				t.Fatalf("valid = %v", rep.Valid)
			}
		})
	}
}
