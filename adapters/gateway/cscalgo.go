package gateway

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/securesign/securesign/signer"
)

// cscSignSpec is how signHash signs, as the request's signAlgo,
// hashAlgorithmOID and signAlgoParams say.
type cscSignSpec struct {
	Alg  signer.Algorithm
	Hash crypto.Hash
	// Salt is the RSASSA-PSS salt length in bytes (RSA-PSS only).
	Salt int
}

var (
	oidMGF1      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	asn1NULL     = []byte{0x05, 0x00}
	errSignParam = errors.New("invalid signAlgoParams")
)

// pssParams is RSASSA-PSS-params (RFC 8017 A.2.3). The defaults (SHA-1,
// MGF1-SHA-1, salt 20) are spelled out only when absent; SHA-1 is refused.
type pssParams struct {
	Hash    pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF     pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	Salt    int                      `asn1:"optional,explicit,tag:2,default:20"`
	Trailer int                      `asn1:"optional,explicit,tag:3,default:1"`
}

// hashOfAlgID is the hash an AlgorithmIdentifier names (parameters absent
// or NULL), 0 if none we sign with.
func hashOfAlgID(a pkix.AlgorithmIdentifier) crypto.Hash {
	if len(a.Parameters.FullBytes) > 0 && !bytes.Equal(a.Parameters.FullBytes, asn1NULL) {
		return 0
	}
	return hashOIDs[a.Algorithm.String()]
}

// parsePSSParams reads base64 DER RSASSA-PSS-params: the hash, checked to
// be the MGF1 hash too (crypto/rsa and PKCS#11 tokens use one hash for
// both), and the salt length.
func parsePSSParams(b64 string) (crypto.Hash, int, error) {
	der, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return 0, 0, fmt.Errorf("%w: not base64", errSignParam)
	}
	var p pssParams
	rest, err := asn1.Unmarshal(der, &p)
	if err != nil || len(rest) > 0 {
		return 0, 0, fmt.Errorf("%w: not DER RSASSA-PSS-params", errSignParam)
	}
	if len(p.Hash.Algorithm) == 0 || len(p.MGF.Algorithm) == 0 {
		return 0, 0, fmt.Errorf("%w: the SHA-1 defaults are not supported; name the hash and MGF1", errSignParam)
	}
	h := hashOfAlgID(p.Hash)
	if h == 0 {
		return 0, 0, fmt.Errorf("%w: hash %s is not SHA-256, SHA-384 or SHA-512", errSignParam, p.Hash.Algorithm)
	}
	if !p.MGF.Algorithm.Equal(oidMGF1) {
		return 0, 0, fmt.Errorf("%w: mask generation %s is not MGF1", errSignParam, p.MGF.Algorithm)
	}
	var mgfHash pkix.AlgorithmIdentifier
	if rest, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &mgfHash); err != nil || len(rest) > 0 || hashOfAlgID(mgfHash) != h {
		return 0, 0, fmt.Errorf("%w: MGF1 must use the signature's hash (%s)", errSignParam, hashName(h))
	}
	if p.Trailer != 1 {
		return 0, 0, fmt.Errorf("%w: trailerField must be 1", errSignParam)
	}
	if p.Salt < 1 {
		return 0, 0, fmt.Errorf("%w: saltLength %d is not supported (at least 1)", errSignParam, p.Salt)
	}
	return h, p.Salt, nil
}

// cscSignSpecOf checks signAlgo, hashAlgorithmOID and signAlgoParams
// against each other and the credential's key (CSC v2 11.10): a combined
// OID (sha256WithRSAEncryption, ecdsa-with-SHA256…) fixes the hash, and a
// hashAlgorithmOID that says otherwise is refused; RSASSA-PSS takes its
// hash and salt from signAlgoParams (which must agree with
// hashAlgorithmOID) or, without them, the hash from hashAlgorithmOID and
// a salt as long as the hash. Without any hash, SHA-256.
func cscSignSpecOf(signAlgo, hashOID, params string, pub crypto.PublicKey) (cscSignSpec, error) {
	sa, ok := signAlgoOIDs[signAlgo]
	if !ok {
		return cscSignSpec{}, fmt.Errorf("%w: unsupported signAlgo %s", errSignParam, signAlgo)
	}
	spec := cscSignSpec{Alg: sa.alg, Hash: sa.hash}
	if hashOID != "" {
		h, ok := hashOIDs[hashOID]
		if !ok {
			return cscSignSpec{}, fmt.Errorf("%w: unsupported hashAlgorithmOID %s", errSignParam, hashOID)
		}
		if spec.Hash != 0 && spec.Hash != h {
			return cscSignSpec{}, fmt.Errorf("%w: hashAlgorithmOID %s contradicts signAlgo %s", errSignParam, hashOID, signAlgo)
		}
		spec.Hash = h
	}
	switch {
	case sa.alg == signer.RSAPSS && params != "":
		h, salt, err := parsePSSParams(params)
		if err != nil {
			return cscSignSpec{}, err
		}
		if spec.Hash != 0 && spec.Hash != h {
			return cscSignSpec{}, fmt.Errorf("%w: the PSS hash %s contradicts hashAlgorithmOID %s", errSignParam, hashName(h), hashOID)
		}
		spec.Hash, spec.Salt = h, salt
	case params != "":
		der, err := base64.StdEncoding.DecodeString(params)
		if err != nil || !bytes.Equal(der, asn1NULL) {
			return cscSignSpec{}, fmt.Errorf("%w: signAlgo %s takes no parameters (or NULL)", errSignParam, signAlgo)
		}
	}
	if spec.Hash == 0 {
		spec.Hash = crypto.SHA256
	}
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if spec.Alg == signer.ECDSA {
			return cscSignSpec{}, fmt.Errorf("%w: signAlgo %s needs an ECDSA key; this credential's is RSA", errSignParam, signAlgo)
		}
		if spec.Alg == signer.RSAPSS {
			if spec.Salt == 0 {
				spec.Salt = spec.Hash.Size()
			}
			// RFC 8017 9.1.1: emLen >= hLen + sLen + 2.
			if max := (k.N.BitLen()-1+7)/8 - spec.Hash.Size() - 2; spec.Salt > max {
				return cscSignSpec{}, fmt.Errorf("%w: saltLength %d above %d for this key and hash", errSignParam, spec.Salt, max)
			}
		}
	case *ecdsa.PublicKey:
		if spec.Alg != signer.ECDSA {
			return cscSignSpec{}, fmt.Errorf("%w: signAlgo %s needs an RSA key; this credential's is ECDSA", errSignParam, signAlgo)
		}
	default:
		return cscSignSpec{}, fmt.Errorf("%w: unsupported key type %T", errSignParam, pub)
	}
	return spec, nil
}

// signCSC signs digest as spec says; an RSA-PSS salt other than the hash
// length goes to the key directly and is verified here.
func signCSC(ctx context.Context, sg signer.Signer, spec cscSignSpec, digest []byte) ([]byte, error) {
	if spec.Alg != signer.RSAPSS || spec.Salt == spec.Hash.Size() {
		return signDigest(ctx, sg, spec.Alg, spec.Hash, digest)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	opts := &rsa.PSSOptions{SaltLength: spec.Salt, Hash: spec.Hash}
	sig, err := sg.Sign(rand.Reader, digest, opts)
	if err != nil {
		return nil, err
	}
	pub, ok := sg.Certificate().PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: RSA-PSS with a non-RSA key", signer.ErrUnsupportedAlgorithm)
	}
	if err := rsa.VerifyPSS(pub, spec.Hash, digest, sig, opts); err != nil {
		return nil, fmt.Errorf("%w: RSA-PSS salt %d: %v", signer.ErrSignatureInvalid, spec.Salt, err)
	}
	return sig, nil
}
