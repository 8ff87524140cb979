package pki

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/digitorus/timestamp"
	"golang.org/x/crypto/ocsp"

	"github.com/securesign/securesign/internal/testpki"
)

// The fuzz targets feed untrusted bytes to every parser the CA exposes to
// the network or to users: OCSP requests, time-stamp requests and CSRs.
// Seeds are in testdata/fuzz/<Name>/.

func FuzzOCSPRequest(f *testing.F) {
	tc := newTestCA(f)
	cert, err := tc.Issue(context.Background(), testpki.Key(f, testpki.P256, 0).Public(), individual, "")
	if err != nil {
		f.Fatal(err)
	}
	req, _ := ocsp.CreateRequest(cert, tc.Certificate(), nil)
	f.Add(req)
	f.Fuzz(func(t *testing.T, der []byte) {
		resp, err := tc.RespondOCSP(context.Background(), der)
		if len(resp) == 0 {
			t.Fatalf("no response (err %v)", err)
		}
		if err == nil {
			// Whatever was accepted must produce a parseable, signed response.
			var r ocspResponseASN1
			var basic ocspBasicResponse
			if _, err := asn1.Unmarshal(resp, &r); err != nil {
				t.Fatal(err)
			}
			if _, err := asn1.Unmarshal(r.Response.Response, &basic); err != nil || len(basic.TBSResponseData.Responses) == 0 {
				t.Fatalf("basic response: %v", err)
			}
			serial := basic.TBSResponseData.Responses[0].CertID.SerialNumber
			if _, err := ocsp.ParseResponseForCert(resp, &x509.Certificate{SerialNumber: serial}, tc.Certificate()); err != nil {
				t.Fatalf("accepted request gave an unparseable response: %v", err)
			}
		}
	})
}

func FuzzTSARequest(f *testing.F) {
	tc := newTestCA(f)
	sum := sha256.Sum256([]byte("x"))
	req, _ := (&timestamp.Request{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Certificates: true}).Marshal()
	f.Add(req)
	f.Fuzz(func(t *testing.T, der []byte) {
		resp, err := tc.RespondTSA(context.Background(), der)
		if len(resp) == 0 {
			t.Fatalf("no response (err %v)", err)
		}
		if err == nil {
			if _, perr := timestamp.ParseResponse(resp); perr != nil {
				t.Fatalf("granted response does not parse: %v", perr)
			}
		}
	})
}

func FuzzParseCSR(f *testing.F) {
	f.Add(makeCSR(f, testpki.Key(f, testpki.P256, 0), "seed"))
	f.Fuzz(func(t *testing.T, data []byte) {
		csr, err := ParseCSR(data)
		if err == nil && csr.CheckSignature() != nil {
			t.Fatal("ParseCSR accepted a CSR with a bad signature")
		}
	})
}

// FuzzCheckEmbedded feeds untrusted revocation data (as found in a PDF's
// DSS) to CheckEmbedded, as an OCSP response and as a CRL.
func FuzzCheckEmbedded(f *testing.F) {
	tc := newTestCA(f)
	ctx := context.Background()
	cert, err := tc.Issue(ctx, testpki.Key(f, testpki.P256, 0).Public(), individual, "")
	if err != nil {
		f.Fatal(err)
	}
	req, _ := ocsp.CreateRequest(cert, tc.Certificate(), nil)
	resp, _ := tc.RespondOCSP(ctx, req)
	crl, _ := tc.CRL(ctx)
	f.Add(resp)
	f.Add(crl)
	rc := NewRevocationChecker(RevocationOptions{})
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := rc.CheckEmbedded(cert, tc.Certificate(), [][]byte{data}, [][]byte{data}, time.Time{})
		if err != nil || st == nil {
			t.Fatalf("soft CheckEmbedded: %v, %v", st, err)
		}
		if st.State != StateUnknown && st.OCSPResponse == nil && st.CRL == nil {
			t.Fatal("a decided status without its evidence")
		}
	})
}
