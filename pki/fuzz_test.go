package pki

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"testing"

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
