package main

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// writeDemo writes a throwaway CA (root.pem) and a user signing key and
// certificate, "Rajesh Kumar", as user.p12 (password "test"), user.pem,
// user.key.der (PKCS#8, for pkcs11-tool) and user.der. It returns the path of
// root.pem. Existing files are reused, so the token and the portal agree.
func writeDemo(dir string) (string, error) {
	rootPath := filepath.Join(dir, "root.pem")
	if _, err := os.Stat(rootPath); err == nil {
		return rootPath, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	now := time.Now().Add(-time.Hour)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	root := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "SecureSign Demo CA", Country: []string{"IN"}},
		NotBefore: now, NotAfter: now.AddDate(5, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	rder, err := x509.CreateCertificate(rand.Reader, root, root, &rk.PublicKey, rk)
	if err != nil {
		return "", err
	}
	rc, _ := x509.ParseCertificate(rder)
	uk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	user := &x509.Certificate{SerialNumber: big.NewInt(0x4A3B2C1D), Subject: pkix.Name{CommonName: "Rajesh Kumar", Country: []string{"IN"}, Province: []string{"Karnataka"}},
		NotBefore: now, NotAfter: now.AddDate(2, 0, 0), BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment}
	uder, err := x509.CreateCertificate(rand.Reader, user, rc, &uk.PublicKey, rk)
	if err != nil {
		return "", err
	}
	uc, _ := x509.ParseCertificate(uder)
	p12, err := pkcs12.Modern.Encode(uk, uc, []*x509.Certificate{rc}, "test")
	if err != nil {
		return "", err
	}
	k8, _ := x509.MarshalPKCS8PrivateKey(uk)
	files := map[string][]byte{
		"user.p12":     p12,
		"user.pem":     pemCert(uc),
		"user.der":     uder,
		"user.key.der": k8,
		"user.key.pem": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: k8}),
		"root.pem":     pemCert(rc), // last: its presence marks a complete demo
	}
	for _, name := range []string{"user.p12", "user.pem", "user.der", "user.key.der", "user.key.pem", "root.pem"} {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o600); err != nil {
			return "", err
		}
	}
	fmt.Fprintf(os.Stderr, "demo CA and user key written to %s (PKCS#12 password \"test\")\n", dir)
	return rootPath, nil
}
