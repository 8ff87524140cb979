package signer

import (
	"fmt"
	"math/big"
	"strings"
)

// ParseSerial parses a certificate serial number written in hex, as
// `openssl x509 -serial` ("serial=0A1B…"), browsers ("0a:1b:…") and portals
// ("0x0a1b") print it: case-insensitive, with an optional "serial=" or "0x"
// prefix, colons, spaces or dashes between bytes, and leading zeros ignored.
func ParseSerial(s string) (*big.Int, error) {
	t := strings.TrimSpace(s)
	if len(t) >= 7 && strings.EqualFold(t[:7], "serial=") {
		t = t[7:]
	}
	if len(t) >= 2 && (t[:2] == "0x" || t[:2] == "0X") {
		t = t[2:]
	}
	var b strings.Builder
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f', c >= 'A' && c <= 'F':
			b.WriteByte(c)
		case c == ':' || c == ' ' || c == '-':
		default:
			return nil, fmt.Errorf("signer: certificate serial %q: %q is not a hex digit", s, c)
		}
	}
	if b.Len() == 0 {
		return nil, fmt.Errorf("signer: certificate serial %q has no hex digits", s)
	}
	if b.Len() > 80 { // RFC 5280: at most 20 octets; allow generous slack for non-conforming CAs
		return nil, fmt.Errorf("signer: certificate serial %q is too long", s)
	}
	n, ok := new(big.Int).SetString(b.String(), 16)
	if !ok {
		return nil, fmt.Errorf("signer: certificate serial %q is not hex", s)
	}
	return n, nil
}

// FormatSerial writes a serial number as upper-case hex with an even number
// of digits, as `openssl x509 -serial` does.
func FormatSerial(n *big.Int) string {
	s := strings.ToUpper(n.Text(16))
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}
