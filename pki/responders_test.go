package pki

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/securesign/securesign/internal/testpki"
)

// TestResponderPolicy: a delegated responder that RFC 6960 accepts counts
// only when the policy believes it, online and in embedded data.
func TestResponderPolicy(t *testing.T) {
	ctx := context.Background()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String()
	hier, err := NewHierarchy(ctx, HierarchyOptions{Name: "Responders"})
	if err != nil {
		t.Fatal(err)
	}
	ca, err := New(ctx, Config{Cert: hier.Issuing, Key: hier.IssuingKey, Chain: []*x509.Certificate{hier.Root}, Store: NewMemoryStore(), BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = ca.Handler()
	srv.Start()
	defer srv.Close()
	key := testpki.Key(t, testpki.P256, 3)
	leaf, err := ca.Issue(ctx, key.Public(), Subject{CommonName: "Rajesh Kumar", State: "Karnataka", PostalCode: "560001"}, ProfileIndividualSigning)
	if err != nil {
		t.Fatal(err)
	}
	own := ca.OCSPSigner().Certificate()
	// A second responder certificate of the same CA: what a customer of a
	// CA that sells OCSP certificates holds.
	rk := testpki.Key(t, testpki.P256, 4)
	stranger, err := ca.Issue(ctx, rk.Public(), Subject{CommonName: "Responders OCSP Responder"}, ProfileOCSP)
	if err != nil {
		t.Fatal(err)
	}
	pin := PinResponders(hier.Issuing, own)
	if err := pin(hier.Issuing, own); err != nil {
		t.Errorf("own responder: %v", err)
	}
	if err := pin(hier.Issuing, stranger); !errors.Is(err, ErrResponderNotTrusted) {
		t.Errorf("stranger: %v", err)
	}
	if err := pin(testpki.NewHierarchy(t).Intermediate.Cert, stranger); err != nil {
		t.Errorf("another issuer's responders are not this policy's business: %v", err)
	}

	for _, tc := range []struct {
		name    string
		policy  ResponderPolicy
		unknown bool // with the CRL off, no answer counts
	}{
		{"no policy", nil, false},
		{"own responder pinned", pin, false},
		{"only the CA key", PinResponders(hier.Issuing), true},
	} {
		rc := NewRevocationChecker(RevocationOptions{Responders: tc.policy, HardFail: true, CacheTTL: -1, DisableCRL: true})
		st, err := rc.Check(ctx, leaf, hier.Issuing)
		switch {
		case tc.unknown && !errors.Is(err, ErrRevocationUnknown):
			t.Errorf("%s: %v %+v; want unknown", tc.name, err, st)
		case !tc.unknown && (err != nil || st.State != StateGood):
			t.Errorf("%s: %v %+v; want good", tc.name, err, st)
		}
	}
	// Embedded: an answer from the pinned responder counts, one signed by
	// the stranger does not.
	resp := ocspFrom(t, ca, leaf, hier.Issuing)
	if st := embeddedStatus(leaf, hier.Issuing, [][]byte{resp}, nil, time.Now(), PinResponders(hier.Issuing)); st.State != StateUnknown {
		t.Errorf("embedded answer of an unpinned responder counted: %s", st.State)
	}
	if st := embeddedStatus(leaf, hier.Issuing, [][]byte{resp}, nil, time.Now(), pin); st.State != StateGood {
		t.Errorf("embedded answer of the pinned responder: %s", st.State)
	}
}

func ocspFrom(t *testing.T, ca *CA, leaf, issuer *x509.Certificate) []byte {
	t.Helper()
	rc := NewRevocationChecker(RevocationOptions{CacheTTL: -1, DisableCRL: true})
	st, err := rc.Check(context.Background(), leaf, issuer)
	if err != nil || len(st.OCSPResponse) == 0 {
		t.Fatalf("OCSP: %v %+v", err, st)
	}
	return st.OCSPResponse
}
