package signer

import (
	"errors"
	"testing"
)

func TestParseKeyGenType(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		bits     int
	}{
		{"RSA-2048", "RSA-2048", 2048},
		{" rsa-3072 ", "RSA-3072", 3072},
		{"RSA-4096", "RSA-4096", 4096},
		{"ecdsa-p256", "ECDSA-P256", 0},
		{"ECDSA-P384", "ECDSA-P384", 0},
		{"RSA-1024", "", 0},
		{"ECDSA-P521", "", 0},
		{"", "", 0},
	} {
		spec, err := parseKeyGenType(tc.in)
		if tc.want == "" {
			if !errors.Is(err, ErrUnsupportedAlgorithm) {
				t.Errorf("%q: %v, want ErrUnsupportedAlgorithm", tc.in, err)
			}
			continue
		}
		if err != nil || spec.name != tc.want || spec.bits != tc.bits || (tc.bits == 0) != (spec.curve != nil) {
			t.Errorf("%q = %+v, %v", tc.in, spec, err)
		}
	}
}
