package pdf

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"errors"
	"math/big"
	"testing"
)

// bigExponentKey makes an RSA key whose public exponent is above 2^31-1,
// like D-Trust's (2271055779), which crypto/rsa refuses.
func bigExponentKey(t *testing.T) (*rsa.PublicKey, *big.Int) {
	t.Helper()
	e := big.NewInt(2271055779)
	one := big.NewInt(1)
	for {
		p, _ := rand.Prime(rand.Reader, 1024)
		q, _ := rand.Prime(rand.Reader, 1024)
		phi := new(big.Int).Mul(new(big.Int).Sub(p, one), new(big.Int).Sub(q, one))
		d := new(big.Int).ModInverse(e, phi)
		if d == nil {
			continue
		}
		return &rsa.PublicKey{N: new(big.Int).Mul(p, q), E: int(e.Int64())}, d
	}
}

func rawSign(pub *rsa.PublicKey, d *big.Int, em []byte) []byte {
	s := new(big.Int).Exp(new(big.Int).SetBytes(em), d, pub.N)
	return s.FillBytes(make([]byte, (pub.N.BitLen()+7)/8))
}

func TestRSABigExponent(t *testing.T) {
	pub, d := bigExponentKey(t)
	k := (pub.N.BitLen() + 7) / 8
	hashed := sha256.Sum256([]byte("signed attributes"))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, hashed[:], make([]byte, k)); err == nil {
		t.Fatal("crypto/rsa accepts the exponent: the test proves nothing")
	}
	// PKCS #1 v1.5
	t1 := append(append([]byte(nil), vDigestInfoPrefix[crypto.SHA256]...), hashed[:]...)
	em := make([]byte, k)
	em[1] = 1
	for i := 2; i < k-len(t1)-1; i++ {
		em[i] = 0xff
	}
	copy(em[k-len(t1):], t1)
	sig := rawSign(pub, d, em)
	if err := vVerifyPKCS1v15Big(pub, crypto.SHA256, hashed[:], sig); err != nil {
		t.Fatalf("PKCS#1 v1.5: %v", err)
	}
	other := sha256.Sum256([]byte("other"))
	if err := vVerifyPKCS1v15Big(pub, crypto.SHA256, other[:], sig); !errors.Is(err, errVSigCrypto) {
		t.Fatalf("PKCS#1 v1.5 over other data: %v", err)
	}
	// PSS, salt of 32 bytes: EMSA-PSS-ENCODE (RFC 8017 9.1.1)
	salt := make([]byte, 32)
	rand.Read(salt)
	mh := sha256.New()
	mh.Write(make([]byte, 8))
	mh.Write(hashed[:])
	mh.Write(salt)
	h := mh.Sum(nil)
	emBits := pub.N.BitLen() - 1
	emLen := (emBits + 7) / 8
	db := make([]byte, emLen-32-1)
	db[len(db)-len(salt)-1] = 1
	copy(db[len(db)-len(salt):], salt)
	mask := vMGF1(crypto.SHA256, h, len(db))
	for i := range db {
		db[i] ^= mask[i]
	}
	db[0] &= 0xff >> (8*emLen - emBits)
	pss := append(append(db, h...), 0xbc)
	sig = rawSign(pub, d, pss)
	if err := vVerifyPSSBig(pub, crypto.SHA256, hashed[:], sig, 32); err != nil {
		t.Fatalf("PSS: %v", err)
	}
	if err := vVerifyPSSBig(pub, crypto.SHA256, other[:], sig, 32); !errors.Is(err, errVSigCrypto) {
		t.Fatalf("PSS over other data: %v", err)
	}
	sig[10] ^= 1
	if err := vVerifyPSSBig(pub, crypto.SHA256, hashed[:], sig, 32); !errors.Is(err, errVSigCrypto) {
		t.Fatalf("PSS flipped: %v", err)
	}
	// the normal-exponent path still agrees with crypto/rsa
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	s2, _ := rsa.SignPSS(rand.Reader, key, crypto.SHA256, hashed[:], &rsa.PSSOptions{SaltLength: 32})
	if err := vVerifyPSSBig(&key.PublicKey, crypto.SHA256, hashed[:], s2, 32); err != nil {
		t.Fatalf("PSS of crypto/rsa: %v", err)
	}
	s3, _ := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, hashed[:])
	if err := vVerifyPKCS1v15Big(&key.PublicKey, crypto.SHA256, hashed[:], s3); err != nil {
		t.Fatalf("PKCS#1 v1.5 of crypto/rsa: %v", err)
	}
}
