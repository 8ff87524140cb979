package pki

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"math/big"
	"net/http"
	"time"

	"github.com/digitorus/timestamp"
)

// maxTSAResponse bounds a TSA answer; a token with a certificate chain is a
// few kilobytes.
const maxTSAResponse = 1 << 20

// TSAClient asks an RFC 3161 time-stamping authority for timestamp tokens.
// It satisfies pdf.Timestamper.
type TSAClient struct {
	// URL is the TSA's http(s) URL.
	URL string
	// HTTPClient sends the requests; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
	// PolicyOID, if set, is requested, and a token under another policy is
	// refused.
	PolicyOID asn1.ObjectIdentifier
}

// Timestamp requests a token over digest, the hash (with hash) of the data to
// be timestamped. It returns the DER TimeStampToken (a CMS ContentInfo) after
// checking the response status, the message imprint, the nonce, the policy
// and the token's signature. Errors wrap ErrTimestamp.
func (c *TSAClient) Timestamp(ctx context.Context, hash crypto.Hash, digest []byte) ([]byte, error) {
	if !hash.Available() || len(digest) != hash.Size() {
		return nil, fmt.Errorf("%w: digest of %d bytes does not match hash %v", ErrTimestamp, len(digest), hash)
	}
	nonce, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	req := &timestamp.Request{
		HashAlgorithm: hash,
		HashedMessage: digest,
		Certificates:  true,
		TSAPolicyOID:  c.PolicyOID,
		Nonce:         nonce,
	}
	der, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTimestamp, err)
	}
	hc := safeClient(c.HTTPClient, 30*time.Second)
	body, err := doHTTP(ctx, hc, http.MethodPost, c.URL, "application/timestamp-query", der, maxTSAResponse)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrTimestamp, err)
	}
	ts, err := timestamp.ParseResponse(body)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrTimestamp, c.URL, err)
	}
	switch {
	case ts.HashAlgorithm != hash || !bytes.Equal(ts.HashedMessage, digest):
		return nil, fmt.Errorf("%w: token is for another message imprint", ErrTimestamp)
	case ts.Nonce == nil || ts.Nonce.Cmp(nonce) != 0:
		return nil, fmt.Errorf("%w: token nonce does not match the request", ErrTimestamp)
	case c.PolicyOID != nil && !ts.Policy.Equal(c.PolicyOID):
		return nil, fmt.Errorf("%w: token policy %v, requested %v", ErrTimestamp, ts.Policy, c.PolicyOID)
	case len(ts.Certificates) == 0:
		// Without certificates the library could not check the signature.
		return nil, fmt.Errorf("%w: token carries no TSA certificate", ErrTimestamp)
	case !hasTimeStamping(ts.Certificates):
		return nil, fmt.Errorf("%w: no certificate in the token has the timeStamping extended key usage", ErrTimestamp)
	}
	return ts.RawToken, nil
}

// hasTimeStamping reports whether a certificate of a token may sign
// timestamps (RFC 3161 §2.3: EKU timeStamping only).
func hasTimeStamping(certs []*x509.Certificate) bool {
	for _, c := range certs {
		if len(c.ExtKeyUsage) == 1 && c.ExtKeyUsage[0] == x509.ExtKeyUsageTimeStamping && len(c.UnknownExtKeyUsage) == 0 {
			return true
		}
	}
	return false
}
