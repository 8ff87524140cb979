package pki

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/securesign/securesign/internal/testenv"
	"github.com/securesign/securesign/internal/testpki"
)

func TestOpenSSLVerifyIssued(t *testing.T) {
	openssl := testenv.LookPath(t, "openssl", "openssl")
	tc := newTestCA(t)
	ctx := context.Background()
	root := tc.writePEM(t, "root.pem", tc.Root())
	inter := tc.writePEM(t, "inter.pem", tc.Certificate())
	for _, tt := range []struct {
		name, profile string
		kt            testpki.KeyType
		subject       Subject
		purpose       string
	}{
		{"individual-rsa", "", testpki.RSA2048, individual, ""},
		{"individual-p256", ProfileIndividualSigning, testpki.P256, individual, ""},
		{"document-signer-p384", ProfileDocumentSigner, testpki.P384, Subject{CommonName: "Acme Loans Signer", Organization: "Acme Loans Pvt Ltd", Country: "IN"}, ""},
		{"tsa", ProfileTSA, testpki.P256, Subject{CommonName: "TSA 2"}, "timestampsign"},
		{"ocsp", ProfileOCSP, testpki.P256, Subject{CommonName: "OCSP 2"}, "ocsphelper"},
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
		})
	}
}
