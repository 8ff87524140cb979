package lg

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/signer"
)

// App plays the signing app: it parses a sign link, signs its digests with
// the identity's key and encodes ss_result.
//
// With a presigned pool the portal side asks only for digests from the
// pool, whose signatures were made once up front (RSA PKCS#1 v1.5 is
// deterministic), so the generator's own RSA cost does not compete with the
// gateway for the same two cores. Every session still carries a signature
// the gateway verifies in full.
type App struct {
	ID         *Identity
	Alg        signer.Algorithm
	Keys       *deeplink.KeySet // verify link signatures when set
	digests    [][]byte
	presigned  sync.Map // [32]byte digest -> presig
	SignedEach bool     // no pool: every digest signed on demand
	// template is callback.NewSuccess's result for the identity, without
	// requestId, time and signatures: its certificate fields (base64 of
	// the certificate and chain) are the same in every answer.
	template callback.Result
}

// presig is a presigned digest's signature, raw and in base64.
type presig struct {
	sig []byte
	b64 string
}

// NewApp returns an app for id; pool > 0 presigns that many random SHA-256
// digests (portals then draw from them), pool == 0 signs each digest.
func NewApp(ctx context.Context, id *Identity, pool int) (*App, error) {
	a := &App{ID: id, Alg: signer.DefaultAlgorithm(id.Signer.Public()), SignedEach: pool == 0}
	t, err := callback.NewSuccess("template", a.Alg, [][]byte{{0}}, id.Signer.Certificate(), id.Signer.Chain(), time.Now())
	if err != nil {
		return nil, err
	}
	a.template = *t
	for i := 0; i < pool; i++ {
		d := make([]byte, sha256.Size)
		rand.Read(d) //nolint:errcheck // never fails
		sig, err := signer.SignDigest(ctx, id.Signer, a.Alg, hashSHA256, d)
		if err != nil {
			return nil, err
		}
		var k [32]byte
		copy(k[:], d)
		a.presigned.Store(k, presig{sig, base64.StdEncoding.EncodeToString(sig)})
		a.digests = append(a.digests, d)
	}
	return a, nil
}

// Digest returns the i-th digest a portal asks to sign: from the pool,
// or fresh random bytes without one.
func (a *App) Digest(i int) []byte {
	if len(a.digests) > 0 {
		return a.digests[i%len(a.digests)]
	}
	d := make([]byte, sha256.Size)
	rand.Read(d) //nolint:errcheck
	return d
}

// Answer parses link, signs its digests and returns the encoded ss_result
// and the requestId.
func (a *App) Answer(ctx context.Context, link string) (string, string, error) {
	l, err := deeplink.Parse(link, time.Now())
	if err != nil {
		return "", "", fmt.Errorf("lg: parse link: %w", err)
	}
	if a.Keys != nil {
		if err := l.Verify(a.Keys); err != nil {
			return "", "", fmt.Errorf("lg: link signature: %w", err)
		}
	}
	// What callback.NewSuccess makes, from the template.
	r := a.template
	r.RequestID, r.SignedAt = l.RequestID, time.Now().UTC().Format(time.RFC3339)
	r.SignaturesBase64 = make([]string, len(l.Hashes))
	for i, h := range l.Hashes {
		if len(h) == sha256.Size && l.HashAlgo == hashSHA256 {
			var k [32]byte
			copy(k[:], h)
			if s, ok := a.presigned.Load(k); ok {
				r.SignaturesBase64[i] = s.(presig).b64
				continue
			}
		}
		sig, err := signer.SignDigest(ctx, a.ID.Signer, a.Alg, l.HashAlgo, h)
		if err != nil {
			return "", "", err
		}
		r.SignaturesBase64[i] = base64.StdEncoding.EncodeToString(sig)
	}
	if len(r.SignaturesBase64) == 0 {
		return "", "", fmt.Errorf("lg: link %s has no digest", l.RequestID)
	}
	r.SignatureBase64 = r.SignaturesBase64[0]
	enc, err := callback.Encode(&r)
	return enc, l.RequestID, err
}

// Failure returns an encoded failure result for link's request (the app
// reports err, e.g. a wrong PIN).
func Failure(link string, err error) (string, string, error) {
	l, perr := deeplink.Parse(link, time.Now())
	if perr != nil {
		return "", "", perr
	}
	enc, eerr := callback.Encode(callback.NewFailure(l.RequestID, err))
	return enc, l.RequestID, eerr
}

// LinkKeys fetches the gateway's published link keys.
func LinkKeys(ctx context.Context, c *Client) (*deeplink.KeySet, error) {
	res, err := c.Do(ctx, http.MethodGet, deeplink.WellKnownPath, nil, false)
	if err != nil {
		return nil, err
	}
	return deeplink.ParseKeySet(res.Body)
}

// CreateHashSession asks for a deep-link session over digests and returns
// the answer (requestId, deepLink, …).
func CreateHashSession(ctx context.Context, c *Client, digests ...[]byte) (*Response, error) {
	list := make([]string, len(digests))
	for i, d := range digests {
		list[i] = base64.StdEncoding.EncodeToString(d)
	}
	body := map[string]any{"hashAlgo": "SHA256"}
	if len(list) == 1 {
		body["hashBase64"] = list[0]
	} else {
		body["hashes"] = list
	}
	return c.Must(ctx, http.StatusCreated, http.MethodPost, "/v1/sign/hash", body)
}
