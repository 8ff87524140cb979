package signer_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"log"
	"os"

	"github.com/securesign/securesign/signer"
)

func ExampleLoadPKCS12() {
	data, err := os.ReadFile("testdata/user-rsa-legacy.p12") // 3DES, as older tools write
	if err != nil {
		log.Fatal(err)
	}
	s, err := signer.LoadPKCS12(data, "test")
	if err != nil {
		log.Fatal(err)
	}
	digest := sha256.Sum256([]byte("document bytes"))
	sig, err := signer.SignDigest(context.Background(), s, signer.DefaultAlgorithm(s.Public()), crypto.SHA256, digest[:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(s.Certificate().Subject.CommonName, "signed", len(sig), "bytes with", signer.DefaultAlgorithm(s.Public()))
	fmt.Println("chain:", s.Chain()[0].Subject.CommonName)
	// Output:
	// Lab Signer RSA signed 256 bytes with RSA-PKCS1-v1_5
	// chain: Lab Test Intermediate CA
}

func ExampleParseSerial() {
	for _, s := range []string{"serial=0A1B2C", "0x0a:1b:2c", "a1b2c"} {
		n, err := signer.ParseSerial(s)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(signer.FormatSerial(n))
	}
	// Output:
	// 0A1B2C
	// 0A1B2C
	// 0A1B2C
}

// Signing with a key on a USB token: list the certificates without a PIN,
// then log in and sign with the one the user chose.
func ExampleModule_Signer() {
	ctx := context.Background()
	m, err := signer.OpenModule(ctx, "/usr/lib/libcastle.so.1.0.0") // ePass2003
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	tok := signer.TokenSelector{Label: "ePass2003"}
	certs, err := m.Certificates(ctx, tok)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range certs {
		fmt.Println(c.SubjectCN, c.SerialHex, c.NotAfter.Format("2006-01-02"), c.KeyType)
	}
	serial, _ := signer.ParseSerial(certs[0].SerialHex)
	s, err := m.Signer(ctx, tok, signer.KeySelector{CertSerial: serial}, []byte(os.Getenv("TOKEN_PIN")))
	if err != nil {
		log.Fatal(err) // errors.Is(err, signer.ErrPINIncorrect), errors.As(err, &pinErr) for tries left
	}
	defer s.(interface{ Close() error }).Close()
	digest := sha256.Sum256([]byte("document bytes"))
	sig, err := signer.SignDigest(ctx, s, signer.DefaultAlgorithm(s.Public()), crypto.SHA256, digest[:])
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(base64.StdEncoding.EncodeToString(sig))
}

func ExampleFindModules() {
	for _, path := range signer.FindModules() {
		fmt.Println("PKCS#11 module:", path)
	}
}

// Server-side key generation on an HSM: generate, let the CA issue for the
// public key, store the certificate next to the key, then sign documents
// with it by certificate serial.
func ExampleModule_GenerateKey() {
	ctx := context.Background()
	m, err := signer.OpenModule(ctx, "/usr/lib/softhsm/libsofthsm2.so")
	if err != nil {
		log.Fatal(err)
	}
	defer m.Close()
	hsm := signer.TokenSelector{Label: "ca-keys"}
	pin := []byte(os.Getenv("HSM_PIN"))
	gk, err := m.GenerateKey(ctx, hsm, pin, signer.KeyGenRequest{KeyType: "ECDSA-P256"})
	if err != nil {
		log.Fatal(err)
	}
	cert := issue(gk.Public) // the CA; the private key never left the token
	if err := m.ImportCertificate(ctx, hsm, pin, gk.ID, "", cert); err != nil {
		log.Fatal(err)
	}
	s, err := m.Signer(ctx, hsm, signer.KeySelector{CertSerial: cert.SerialNumber}, pin)
	if err != nil {
		log.Fatal(err)
	}
	defer s.(interface{ Close() error }).Close()
	fmt.Println("signing as", s.Certificate().Subject.CommonName)
}

// issue stands for a CA (package pki) issuing a certificate for pub.
func issue(pub crypto.PublicKey) *x509.Certificate { return &x509.Certificate{PublicKey: pub} }
