package pdf

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/digitorus/pkcs7"
)

// cmsFor makes a detached CMS over content with the pinned digitorus/pkcs7
// (an implementation independent of ours).
func cmsFor(t *testing.T, content []byte, withAttrs bool) []byte {
	t.Helper()
	p := getPKI(t)
	return cmsWith(t, content, withAttrs, p.leaf.Cert, p.leaf.Key, p.leaf.Chain)
}

func cmsWith(t *testing.T, content []byte, withAttrs bool, cert *x509.Certificate, key crypto.Signer, chain []*x509.Certificate) []byte {
	t.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if withAttrs {
		err = sd.AddSignerChain(cert, key, chain, pkcs7.SignerInfoConfig{})
	} else {
		err = sd.SignWithoutAttr(cert, key, pkcs7.SignerInfoConfig{})
	}
	if err != nil {
		t.Fatal(err)
	}
	sd.Detach()
	der, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCMSVerify(t *testing.T) {
	content := []byte("the signed bytes")
	sum := sha256.Sum256(content)
	other := sha256.Sum256([]byte("other bytes"))
	good := cmsFor(t, content, true)
	noAttrs := cmsFor(t, content, false)
	flipSig := append([]byte(nil), good...)
	flipSig[len(flipSig)-5] ^= 1 // inside the signature value (last field)
	cases := []struct {
		name    string
		der     []byte
		digest  []byte
		wantErr error
	}{
		{"good", good, sum[:], nil},
		{"good-zero-padded", append(append([]byte(nil), good...), make([]byte, 300)...), sum[:], nil},
		{"no-signed-attributes", noAttrs, sum[:], nil},
		{"other-document", good, other[:], errVDigestMismatch},
		{"other-document-no-attributes", noAttrs, other[:], errVSigCrypto},
		{"signature-flipped", flipSig, sum[:], errVSigCrypto},
		// bytes after the CMS in /Contents are signed by nobody: ignored
		// (sd.trailing, reported as a note by the validator)
		{"trailing-garbage", append(append([]byte(nil), good...), 1, 2, 3), sum[:], nil},
		{"truncated", good[:len(good)/2], sum[:], errVCMSFormat},
		{"empty", nil, sum[:], errVCMSFormat},
		{"not-signed-data", []byte{0x30, 0x03, 0x06, 0x01, 0x00}, sum[:], errVCMSFormat},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sd, err := vParseSignedData(tc.der)
			if err == nil {
				if tc.name == "trailing-garbage" && !sd.trailing {
					t.Error("trailing bytes not flagged")
				}
				_, err = sd.verify(tc.digest)
			}
			if !errors.Is(err, tc.wantErr) && (tc.wantErr != nil || err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
		})
	}
}

func FuzzCMSVerify(f *testing.F) {
	f.Add([]byte{0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02})
	f.Fuzz(func(t *testing.T, der []byte) {
		sd, err := vParseSignedData(der)
		if err != nil {
			return
		}
		sd.verify(make([]byte, 32))
	})
}

// TestCMSSignerBySKI: the signer may be named by subject key identifier
// instead of issuer and serial (the identifier is not signed, so it can be
// rewritten in a valid CMS).
func TestCMSSignerBySKI(t *testing.T) {
	content := []byte("the signed bytes")
	sum := sha256.Sum256(content)
	p := getPKI(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(4242), Subject: pkix.Name{CommonName: "SKI Signer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, SubjectKeyId: []byte{0xde, 0xad, 0xbe, 0xef},
	}
	certDER, err := x509.CreateCertificate(rand.Reader, tmpl, p.h.Intermediate.Cert, p.leaf.Key.Public(), p.h.Intermediate.Key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(certDER)
	der := cmsWith(t, content, true, leaf, p.leaf.Key, p.leaf.Chain)
	type signedDataT struct {
		Version          int
		DigestAlgorithms asn1.RawValue `asn1:"set"`
		EncapContentInfo asn1.RawValue
		Certificates     asn1.RawValue    `asn1:"optional,tag:0"`
		CRLs             asn1.RawValue    `asn1:"optional,tag:1"`
		SignerInfos      []vCmsSignerInfo `asn1:"set"`
	}
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	if _, err := asn1.Unmarshal(der, &ci); err != nil {
		t.Fatal(err)
	}
	var sd signedDataT
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil {
		t.Fatal(err)
	}
	rewrite := func(ski []byte) []byte {
		sd2 := sd
		sd2.SignerInfos = append([]vCmsSignerInfo(nil), sd.SignerInfos...)
		sd2.SignerInfos[0].Version = 3
		sd2.SignerInfos[0].SID = asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ski}
		inner, err := asn1.Marshal(sd2)
		if err != nil {
			t.Fatal(err)
		}
		ci2 := ci
		ci2.Content = asn1.RawValue{FullBytes: mustExplicit0(t, inner)}
		out, err := asn1.Marshal(ci2)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	for name, tc := range map[string]struct {
		ski     []byte
		wantErr error
	}{
		"matching-ski": {leaf.SubjectKeyId, nil},
		"unknown-ski":  {[]byte{1, 2, 3, 4}, errVNoSignerCert},
	} {
		t.Run(name, func(t *testing.T) {
			p, err := vParseSignedData(rewrite(tc.ski))
			if err != nil {
				t.Fatal(err)
			}
			res, err := p.verify(sum[:])
			if !errors.Is(err, tc.wantErr) && (tc.wantErr != nil || err != nil) {
				t.Fatalf("err = %v, want %v", err, tc.wantErr)
			}
			if err == nil && !res.signer.Equal(leaf) {
				t.Fatal("wrong signer")
			}
		})
	}
}

func mustExplicit0(t *testing.T, inner []byte) []byte {
	t.Helper()
	out, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: inner})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
