package pdf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"fmt"
	"io"
	"testing"
	"time"

	dpdf "github.com/digitorus/pdf"
	"github.com/digitorus/pdfsign/sign"

	"github.com/securesign/securesign/internal/testpdf"
	"github.com/securesign/securesign/internal/testpki"
)

// In-process comparison with digitorus/pdfsign on small inputs, where the
// CLI's process start-up would otherwise dominate.
var smallSizes = []int64{100 << 10, 1 << 20}

func BenchmarkSignSmall(b *testing.B) {
	w := sgGetWorld(b)
	s := w.leaf(b, testpki.RSA2048, 0, "Rajesh Kumar")
	for _, n := range smallSizes {
		data := testpdf.Bytes(testpdf.Options{PadBytes: n})
		b.Run(fmt.Sprintf("ours/%dKB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				if err := Sign(context.Background(), io.Discard, bytes.NewReader(data), int64(len(data)), s, SignOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("pdfsign/%dKB", n>>10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for i := 0; i < b.N; i++ {
				r := bytes.NewReader(data)
				rdr, err := dpdf.NewReader(r, int64(len(data)))
				if err != nil {
					b.Fatal(err)
				}
				err = sign.Sign(r, io.Discard, rdr, int64(len(data)), sign.SignData{
					Signature: sign.SignDataSignature{
						Info:     sign.SignDataSignatureInfo{Name: "R", Date: time.Now()},
						CertType: sign.ApprovalSignature, DocMDPPerm: sign.AllowFillingExistingFormFieldsAndSignaturesPerms,
					},
					Signer: s, DigestAlgorithm: crypto.SHA256, Certificate: s.Certificate(),
					CertificateChains: [][]*x509.Certificate{append([]*x509.Certificate{s.Certificate()}, s.Chain()...)},
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
