package pdf

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"testing"
)

func TestBERToDER(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"der-unchanged", "3006020101020102", "3006020101020102"},
		{"indefinite-sequence", "30800201010000", "3003020101"},
		{"nested-indefinite", "3080a0803080020101000000000000", "3007a00530030201 01"},
		{"constructed-octet-string", "2480040201020401030000", "0403010203"},
		{"constructed-octet-string-definite", "240704020102040103ff", "0403010203"},
		{"long-form-length-not-minimal", "30810302010100", "3003020101"},
		{"high-tag", "bf1f80020101 0000", "bf1f03020101"},
	} {
		t.Run(c.name, func(t *testing.T) {
			in, _ := hex.DecodeString(stripSpaces(c.in))
			want, _ := hex.DecodeString(stripSpaces(c.want))
			der, _, _, err := berToDER(in)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(der, want) {
				t.Fatalf("got %x, want %x", der, want)
			}
		})
	}
	for _, bad := range []string{"", "30", "3080", "308002010100", "0480", "3085ffffffffff", "30830fffff00"} {
		in, _ := hex.DecodeString(bad)
		if _, _, _, err := berToDER(in); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
	// depth bound
	deep := bytes.Repeat([]byte{0x30, 0x80}, 10000)
	if _, _, _, err := berToDER(deep); err == nil {
		t.Error("10000 nested indefinite lengths accepted")
	}
}

func stripSpaces(s string) string { return string(bytes.ReplaceAll([]byte(s), []byte(" "), nil)) }

// FuzzBER: berToDER never panics, its output is DER that it keeps as is,
// and encoding/asn1 reads it.
func FuzzBER(f *testing.F) {
	for _, s := range []string{"30800201010000", "2480040201020401030000", "3006020101020102", "bf1f80020101 0000"} {
		b, _ := hex.DecodeString(stripSpaces(s))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		der, _, _, err := berToDER(in)
		if err != nil {
			return
		}
		again, tree, rest, err := berToDER(der)
		if err != nil || len(rest) != 0 || tree != nil || !bytes.Equal(again, der) {
			t.Fatalf("re-encoding %x: %x, tree=%v, err=%v", der, again, tree != nil, err)
		}
		// the allocation-free DER check and the tree agree
		if n, ok := derLen(in, 0); ok {
			tr, _, err := berParse(in)
			if err != nil || !tr.der || len(tr.raw) != n {
				t.Fatalf("derLen says DER, the tree does not: %x", in)
			}
		} else if tr, _, err := berParse(in); err == nil && tr.der {
			t.Fatalf("the tree says DER, derLen does not: %x", in)
		}
		var rv asn1.RawValue
		if r, err := asn1.Unmarshal(der, &rv); err != nil || len(r) != 0 {
			t.Fatalf("encoding/asn1 refuses %x: %v", der, err)
		}
	})
}
