package signer

import (
	"crypto"
	"crypto/x509"
)

// Signer is a private key together with its certificate chain.
//
// Sign follows [crypto.Signer]: digest is the output of opts.HashFunc();
// passing *rsa.PSSOptions selects RSA-PSS. ECDSA signatures are ASN.1 DER.
// Implementations are safe for concurrent use.
type Signer interface {
	crypto.Signer
	// Certificate returns the signer's own certificate.
	Certificate() *x509.Certificate
	// Chain returns the intermediate certificates, leaf excluded, closest
	// to the leaf first. It may be empty.
	Chain() []*x509.Certificate
}
