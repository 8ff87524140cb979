package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"
)

// TestProfileChecks: CheckSubject and CheckKey refuse what issuance would,
// with the same errors.
func TestProfileChecks(t *testing.T) {
	ind := DefaultProfiles(nil)[ProfileIndividualSigning]
	full := Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001"}
	for _, tc := range []struct {
		name string
		s    Subject
		ok   bool
	}{
		{"full (country and O from the profile)", full, true},
		{"no state", Subject{CommonName: "Rajesh Kumar", PostalCode: "560001"}, false},
		{"no postal code", Subject{CommonName: "Rajesh Kumar", State: "Karnataka"}, false},
		{"other country", Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001", Country: "US"}, false},
		{"control character", Subject{CommonName: "Rajesh\nKumar", State: "Karnataka", PostalCode: "560001"}, false},
	} {
		err := ind.CheckSubject(tc.s)
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrBadSubject)) {
			t.Errorf("%s: CheckSubject = %v", tc.name, err)
		}
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	if err := ind.CheckKey(p384.Public()); err != nil {
		t.Errorf("P-384: %v", err)
	}
	for name, pub := range map[string]any{"P-224": p224.Public(), "RSA-1024": rsa1024.Public()} {
		if err := ind.CheckKey(pub); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%s: CheckKey = %v, want ErrWeakKey", name, err)
		}
	}
}
