package pki

import (
	"crypto/x509"
	"math/big"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// ParseCertificate is x509.ParseCertificate, except that it also accepts a
// certificate whose serial number is negative.
//
// RFC 5280 requires positive serials, but CAs (national ones among them)
// have issued certificates with negative serials that are still in use, and
// since Go 1.23 x509.ParseCertificate refuses them unless the program runs
// with GODEBUG=x509negativeserial=1, a setting a library cannot make for
// its users. So when the standard parser refuses a certificate for that
// reason alone, the serial is replaced by a positive one of the same length,
// the copy is parsed, and the result is given back the original bytes (Raw,
// RawTBSCertificate: what signatures and certificate hashes are computed
// over) and the original, negative, SerialNumber. Nothing but the serial's
// content bytes differ between the two encodings, so every other parsed
// field is the original's. Callers should tell the user (NegativeSerial).
func ParseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err == nil {
		return c, nil
	}
	tbs, serial, off, ok := negativeSerialAt(der)
	if !ok {
		return nil, err
	}
	patched := append([]byte(nil), der...)
	patched[off] = 0x01 // positive, still minimal, same length
	c, err2 := x509.ParseCertificate(patched)
	if err2 != nil {
		return nil, err // the serial was not the only problem
	}
	c.Raw = der
	c.RawTBSCertificate = tbs
	c.SerialNumber = serial
	return c, nil
}

// NegativeSerial reports whether c has a negative serial number, which RFC
// 5280 forbids and ParseCertificate accepts.
func NegativeSerial(c *x509.Certificate) bool {
	return c != nil && c.SerialNumber != nil && c.SerialNumber.Sign() < 0
}

// negativeSerialAt finds the serial number of the certificate der: it
// returns the TBSCertificate bytes, the (negative) serial and the offset in
// der of its first content byte, or ok=false when the serial is not
// negative. Offsets come from cap(): every cryptobyte.String read here is a
// subslice of der.
func negativeSerialAt(der []byte) (tbs []byte, serial *big.Int, off int, ok bool) {
	at := func(s []byte) int { return cap(der) - cap(s) }
	in := cryptobyte.String(der)
	var cert, tbsElem, tbsBody, sv cryptobyte.String
	if !in.ReadASN1(&cert, cbasn1.SEQUENCE) || !cert.ReadASN1Element(&tbsElem, cbasn1.SEQUENCE) {
		return nil, nil, 0, false
	}
	e := tbsElem
	if !e.ReadASN1(&tbsBody, cbasn1.SEQUENCE) {
		return nil, nil, 0, false
	}
	if !tbsBody.SkipOptionalASN1(cbasn1.Tag(0).Constructed().ContextSpecific()) || !tbsBody.ReadASN1(&sv, cbasn1.INTEGER) {
		return nil, nil, 0, false
	}
	if len(sv) == 0 || sv[0]&0x80 == 0 {
		return nil, nil, 0, false
	}
	n := new(big.Int).SetBytes(sv)
	// two's complement: value = unsigned - 2^(8·len)
	n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(sv))))
	return []byte(tbsElem), n, at(sv), true
}
