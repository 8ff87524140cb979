package pki

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

// TestOpenSSLVerifyIssued issues one certificate per built-in profile and
// has openssl verify it against the root and show its extensions.
func TestOpenSSLVerifyIssued(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "openssl")
	tc := newTestCA(t)
	ctx := context.Background()
	root := tc.writePEM(t, "root.pem", tc.Root())
	inter := tc.writePEM(t, "inter.pem", tc.Certificate())
	full := individual
	full.Pseudonym, full.SerialNumber, full.Email, full.OrganizationalUnit = "RK-7731", "4f2a9c", "rajesh@example.in", "Retail"
	signing := []string{
		"X509v3 Key Usage: critical", "Digital Signature, Non Repudiation",
		"Certificate Policies", "Policy: 1.3.6.1.4.1.32473.1.3",
		"OCSP - URI:" + tc.srv.URL + "/ocsp", "CA Issuers - URI:" + tc.srv.URL + "/ca.crt",
		"CRL Distribution Points", "URI:" + tc.srv.URL + "/crl",
		"Subject Key Identifier", "Authority Key Identifier", "CA:FALSE",
	}
	for _, tt := range []struct {
		name, profile string
		kt            testpki.KeyType
		subject       Subject
		purpose       string
		want          []string
	}{
		{"individual-rsa", "", testpki.RSA2048, individual, "",
			append([]string{"Subject: C = IN, ST = Karnataka, postalCode = 560001, O = Personal, CN = Rajesh Kumar"}, signing...)},
		{"individual-p256-full-subject", ProfileIndividualSigning, testpki.P256, full, "",
			append([]string{"OU = Retail", "serialNumber = 4f2a9c", "pseudonym = RK-7731", "email:rajesh@example.in"}, signing...)},
		{"document-signer-p384", ProfileDocumentSigner, testpki.P384, Subject{CommonName: "Acme Loans Signer", Organization: "Acme Loans Pvt Ltd", Country: "IN"}, "",
			append([]string{"O = Acme Loans Pvt Ltd"}, signing...)},
		{"tsa", ProfileTSA, testpki.P256, Subject{CommonName: "TSA 2"}, "timestampsign",
			[]string{"X509v3 Extended Key Usage: critical", "Time Stamping"}},
		{"ocsp", ProfileOCSP, testpki.P256, Subject{CommonName: "OCSP 2"}, "ocsphelper",
			[]string{"OCSP Signing", "OCSP No Check"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			key := testpki.Key(t, tt.kt, 0)
			cert, err := tc.IssueCSR(ctx, makeCSR(t, key, "ignored"), tt.subject, tt.profile)
			if err != nil {
				t.Fatal(err)
			}
			leaf := tc.writePEM(t, tt.name+".pem", cert)
			args := []string{"verify", "-CAfile", root, "-untrusted", inter}
			if tt.purpose != "" {
				args = append(args, "-purpose", tt.purpose)
			}
			out, err := exec.Command(openssl, append(args, leaf)...).CombinedOutput()
			if err != nil || !strings.Contains(string(out), ": OK") {
				t.Fatalf("openssl verify: %v\n%s", err, out)
			}
			text, err := exec.Command(openssl, "x509", "-noout", "-text", "-in", leaf).CombinedOutput()
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(text), w) {
					t.Errorf("certificate lacks %q", w)
				}
			}
			if strings.Contains(string(text), "ignored") {
				t.Error("the CSR's subject leaked into the certificate")
			}
			if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() < 64 {
				t.Errorf("serial %x", cert.SerialNumber)
			}
		})
	}
}
