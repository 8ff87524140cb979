package pdf

// Signature algorithms beyond what Go's crypto packages accept: RSA keys
// with public exponents above 2^31-1 (D-Trust and some TSAs use them;
// crypto/rsa refuses them), verified here with math/big. Verification
// needs no secret, so a variable-time implementation is fine.

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/asn1"
	"math/big"
)

func vBigExponent(k *rsa.PublicKey) bool { return k.E > 1<<31-1 || k.E < 0 }

// vRSAOpen returns sig^e mod n as k bytes, or nil when sig is out of range.
func vRSAOpen(k *rsa.PublicKey, sig []byte) []byte {
	size := (k.N.BitLen() + 7) / 8
	if len(sig) != size {
		return nil
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(k.N) >= 0 {
		return nil
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(k.E)), k.N)
	if k.E < 0 { // E is an int; on 32-bit platforms this cannot be big
		return nil
	}
	return m.FillBytes(make([]byte, size))
}

// DigestInfo prefixes (RFC 8017 9.2 note 1).
var vDigestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// vVerifyPKCS1v15Big is RSASSA-PKCS1-v1_5 verification (RFC 8017 8.2.2).
func vVerifyPKCS1v15Big(k *rsa.PublicKey, h crypto.Hash, hashed, sig []byte) error {
	em := vRSAOpen(k, sig)
	prefix := vDigestInfoPrefix[h]
	if em == nil || prefix == nil || len(hashed) != h.Size() {
		return errVSigCrypto
	}
	t := append(append([]byte(nil), prefix...), hashed...)
	if len(em) < len(t)+11 {
		return errVSigCrypto
	}
	want := make([]byte, len(em))
	want[1] = 1
	for i := 2; i < len(em)-len(t)-1; i++ {
		want[i] = 0xff
	}
	copy(want[len(em)-len(t):], t)
	if subtle.ConstantTimeCompare(em, want) != 1 {
		return errVSigCrypto
	}
	return nil
}

// vVerifyPSSBig is RSASSA-PSS verification with MGF1 (RFC 8017 9.1.2).
// saltLen is the length from the parameters.
func vVerifyPSSBig(k *rsa.PublicKey, h crypto.Hash, hashed, sig []byte, saltLen int) error {
	em := vRSAOpen(k, sig)
	if em == nil || len(hashed) != h.Size() {
		return errVSigCrypto
	}
	emBits := k.N.BitLen() - 1
	emLen := (emBits + 7) / 8
	if len(em) > emLen { // the leading byte is zero when modBits-1 is a multiple of 8
		if em[0] != 0 {
			return errVSigCrypto
		}
		em = em[1:]
	}
	hLen := h.Size()
	if emLen < hLen+saltLen+2 || em[emLen-1] != 0xbc {
		return errVSigCrypto
	}
	db, hh := em[:emLen-hLen-1], em[emLen-hLen-1:emLen-1]
	if db[0]>>(8-(8*emLen-emBits)) != 0 && 8*emLen-emBits > 0 {
		return errVSigCrypto
	}
	mask := vMGF1(h, hh, len(db))
	db = append([]byte(nil), db...)
	for i := range db {
		db[i] ^= mask[i]
	}
	db[0] &= 0xff >> (8*emLen - emBits)
	ps := emLen - hLen - saltLen - 2
	for i := 0; i < ps; i++ {
		if db[i] != 0 {
			return errVSigCrypto
		}
	}
	if db[ps] != 1 {
		return errVSigCrypto
	}
	salt := db[len(db)-saltLen:]
	m := h.New()
	m.Write(make([]byte, 8))
	m.Write(hashed)
	m.Write(salt)
	if !bytes.Equal(m.Sum(nil), hh) {
		return errVSigCrypto
	}
	return nil
}

func vMGF1(h crypto.Hash, seed []byte, n int) []byte {
	var out []byte
	for c := uint32(0); len(out) < n; c++ {
		d := h.New()
		d.Write(seed)
		d.Write([]byte{byte(c >> 24), byte(c >> 16), byte(c >> 8), byte(c)})
		out = d.Sum(out)
	}
	return out[:n]
}

func vIsPlainECDSA(oid asn1.ObjectIdentifier) bool {
	if len(oid) != len(vOidPlainECDSA)+1 {
		return false
	}
	return asn1.ObjectIdentifier(oid[:len(vOidPlainECDSA)]).Equal(vOidPlainECDSA)
}

// vKnownNonMatching reports OIDs this validator knows and that are not a
// signature algorithm for the key at hand: a known signature algorithm of
// another key type, or a key or curve identifier in the signature
// algorithm's place. Such a signature is malformed, not merely unsupported.
func vKnownNonMatching(oid asn1.ObjectIdentifier) bool {
	for _, o := range []asn1.ObjectIdentifier{vOidRSA, vOidRSASHA1, vOidRSASHA256, vOidRSASHA384, vOidRSASHA512, vOidRSAPSS,
		vOidEC, vOidECSHA1, vOidECSHA256, vOidECSHA384, vOidECSHA512, vOidEd25519,
		{1, 2, 840, 10045, 3, 1, 7}, {1, 3, 132, 0, 34}, {1, 3, 132, 0, 35}, // P-256, P-384, P-521
		vOidSHA1, vOidSHA256, vOidSHA384, vOidSHA512} {
		if oid.Equal(o) {
			return true
		}
	}
	return vIsPlainECDSA(oid)
}

// vIsSignatureAlgorithm: an OID that names a signature algorithm, which in
// the digestAlgorithm field makes the SignerInfo malformed.
func vIsSignatureAlgorithm(oid asn1.ObjectIdentifier) bool {
	for _, o := range []asn1.ObjectIdentifier{vOidRSASHA1, vOidRSASHA256, vOidRSASHA384, vOidRSASHA512, vOidRSAPSS,
		vOidECSHA1, vOidECSHA256, vOidECSHA384, vOidECSHA512, vOidEd25519} {
		if oid.Equal(o) {
			return true
		}
	}
	return vIsPlainECDSA(oid)
}
