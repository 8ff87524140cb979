package deeplink

import (
	"crypto/sha256"
	"encoding/base64"
)

// RegisterDigest is the SHA-256 digest a register link makes the app sign:
// SHA-256 over the UTF-8 bytes of
//
//	"securesign-register/v1\n" + origin + "\n" + requestID + "\n" + challenge
//
// where challenge is written as it appears in the link: unpadded base64url
// of the challenge bytes. The portal and the app both call this function,
// so a registration can never be turned into a document signature.
func RegisterDigest(origin, requestID string, challenge []byte) []byte {
	h := sha256.New()
	h.Write([]byte("securesign-register/v1\n" + origin + "\n" + requestID + "\n"))
	h.Write([]byte(base64.RawURLEncoding.EncodeToString(challenge)))
	return h.Sum(nil)
}
