package signer

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"fmt"
	"math/big"
)

// Algorithm is a signature algorithm, named as in the protocol's signAlgo
// field.
type Algorithm string

// The signature algorithms of the protocol.
const (
	RSAPKCS1v15 Algorithm = "RSA-PKCS1-v1_5"
	RSAPSS      Algorithm = "RSA-PSS" // salt length = hash length
	ECDSA       Algorithm = "ECDSA"   // ASN.1 DER signatures
)

// ParseAlgorithm returns the Algorithm named s (case-insensitive; "PSS",
// "PKCS1" and "RSA" are accepted as short forms).
func ParseAlgorithm(s string) (Algorithm, error) {
	switch normalizeName(s) {
	case "RSAPKCS1V15", "PKCS1V15", "PKCS1", "RSA":
		return RSAPKCS1v15, nil
	case "RSAPSS", "PSS":
		return RSAPSS, nil
	case "ECDSA", "EC":
		return ECDSA, nil
	}
	return "", fmt.Errorf("%w: signature algorithm %q (want RSA-PKCS1-v1_5, RSA-PSS or ECDSA)", ErrUnsupportedAlgorithm, s)
}

// ParseHash returns the hash named s: SHA256, SHA-256, sha384, … Only
// SHA-256, SHA-384 and SHA-512 are accepted.
func ParseHash(s string) (crypto.Hash, error) {
	switch normalizeName(s) {
	case "SHA256":
		return crypto.SHA256, nil
	case "SHA384":
		return crypto.SHA384, nil
	case "SHA512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("%w: hash %q (want SHA256, SHA384 or SHA512)", ErrUnsupportedAlgorithm, s)
}

func normalizeName(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
			b = append(b, c-'a'+'A')
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			b = append(b, c)
		}
	}
	return string(b)
}

// DefaultAlgorithm returns the algorithm to use with pub when the caller
// has no preference: RSA-PKCS1-v1_5 for RSA (what Indian DSC verifiers
// expect), ECDSA for ECDSA, "" for anything else.
func DefaultAlgorithm(pub crypto.PublicKey) Algorithm {
	switch pub.(type) {
	case *rsa.PublicKey:
		return RSAPKCS1v15
	case *ecdsa.PublicKey:
		return ECDSA
	}
	return ""
}

func checkHash(hash crypto.Hash, digest []byte) error {
	switch hash {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("%w: hash %v (want SHA-256, SHA-384 or SHA-512)", ErrUnsupportedAlgorithm, hash)
	}
	if len(digest) != hash.Size() {
		return fmt.Errorf("signer: digest is %d bytes, %v needs %d", len(digest), hash, hash.Size())
	}
	return nil
}

// signerOpts returns the crypto.SignerOpts for alg with key pub, or an
// ErrUnsupportedAlgorithm error when they do not fit together.
func signerOpts(pub crypto.PublicKey, alg Algorithm, hash crypto.Hash) (crypto.SignerOpts, error) {
	switch pub.(type) {
	case *rsa.PublicKey:
		switch alg {
		case RSAPKCS1v15:
			return hash, nil
		case RSAPSS:
			return &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}, nil
		}
	case *ecdsa.PublicKey:
		if alg == ECDSA {
			return hash, nil
		}
	default:
		return nil, fmt.Errorf("%w: key type %T", ErrUnsupportedAlgorithm, pub)
	}
	return nil, fmt.Errorf("%w: %q with a %s key", ErrUnsupportedAlgorithm, alg, keyTypeName(pub))
}

// SignDigest signs a precomputed digest with s. The signature is verified
// against s.Certificate() before it is returned; ECDSA signatures are ASN.1
// DER and RSA-PSS uses a salt as long as the hash.
func SignDigest(ctx context.Context, s Signer, alg Algorithm, hash crypto.Hash, digest []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkHash(hash, digest); err != nil {
		return nil, err
	}
	cert := s.Certificate()
	if cert == nil {
		return nil, fmt.Errorf("%w: signer has no certificate", ErrCertNotFound)
	}
	opts, err := signerOpts(cert.PublicKey, alg, hash)
	if err != nil {
		return nil, err
	}
	sig, err := s.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, err
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); ok {
		sig = ecdsaToDER(k, sig)
	}
	if v, ok := s.(selfVerifying); ok && v.verifiesSignatures() {
		// Our own signers already verified against this certificate.
		return sig, nil
	}
	if err := VerifyDigest(cert.PublicKey, alg, hash, digest, sig); err != nil {
		return nil, err
	}
	return sig, nil
}

// selfVerifying is implemented by this package's signers, whose Sign
// already verifies every signature against the certificate.
type selfVerifying interface{ verifiesSignatures() bool }

// VerifyDigest checks sig over digest with pub. A mismatch returns an error
// wrapping ErrSignatureInvalid. ECDSA signatures must be ASN.1 DER.
func VerifyDigest(pub crypto.PublicKey, alg Algorithm, hash crypto.Hash, digest, sig []byte) error {
	if err := checkHash(hash, digest); err != nil {
		return err
	}
	if _, err := signerOpts(pub, alg, hash); err != nil {
		return err
	}
	return verify(pub, alg, hash, digest, sig)
}

// verify checks a signature whose parameters were already validated.
func verify(pub crypto.PublicKey, alg Algorithm, hash crypto.Hash, digest, sig []byte) error {
	var pss *rsa.PSSOptions
	if alg == RSAPSS {
		pss = &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: hash}
	}
	return verifyWith(pub, alg, hash, pss, digest, sig)
}

// verifyWith is verify with explicit PSS options (for RSA-PSS only).
func verifyWith(pub crypto.PublicKey, alg Algorithm, hash crypto.Hash, pss *rsa.PSSOptions, digest, sig []byte) error {
	var err error
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if pss != nil {
			err = rsa.VerifyPSS(k, hash, digest, sig, pss)
		} else {
			err = rsa.VerifyPKCS1v15(k, hash, digest, sig)
		}
	case *ecdsa.PublicKey:
		if !ecdsa.VerifyASN1(k, digest, sig) {
			err = fmt.Errorf("ECDSA verification failed")
		}
	case ed25519.PublicKey:
		return fmt.Errorf("%w: Ed25519", ErrUnsupportedAlgorithm)
	default:
		return fmt.Errorf("%w: key type %T", ErrUnsupportedAlgorithm, pub)
	}
	if err != nil {
		return fmt.Errorf("%w: %s %v: %v", ErrSignatureInvalid, alg, hash, err)
	}
	return nil
}

// verifyOpts verifies a signature made by crypto.Signer.Sign with opts.
func verifyOpts(pub crypto.PublicKey, digest, sig []byte, opts crypto.SignerOpts) error {
	alg := DefaultAlgorithm(pub)
	pss, _ := opts.(*rsa.PSSOptions)
	if pss != nil {
		alg = RSAPSS
	}
	return verifyWith(pub, alg, opts.HashFunc(), pss, digest, sig)
}

// ecdsaToDER converts a raw r||s signature (what PKCS#11 and WebCrypto
// produce) to ASN.1 DER; anything else is returned unchanged.
func ecdsaToDER(pub *ecdsa.PublicKey, sig []byte) []byte {
	n := (pub.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n {
		return sig
	}
	var parsed struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &parsed); err == nil && len(rest) == 0 {
		return sig // already DER, and happens to be 2n bytes long
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:]),
	})
	if err != nil {
		return sig
	}
	return der
}

// keyTypeName describes a public key as "RSA-2048", "ECDSA-P256", …
func keyTypeName(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		switch k.Curve.Params().BitSize {
		case 256:
			return "ECDSA-P256"
		case 384:
			return "ECDSA-P384"
		case 521:
			return "ECDSA-P521"
		}
		return "ECDSA-" + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
