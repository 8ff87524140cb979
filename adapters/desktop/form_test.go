package desktop

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSecretForm(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
		bad  bool
	}{
		{in: "csrf=abc&cert=c0-ff&pin=12%2634+5", want: map[string]string{"csrf": "abc", "cert": "c0-ff", "pin": "12&34 5"}},
		{in: "", want: map[string]string{}},
		{in: "a&&b=", want: map[string]string{"a": "", "b": ""}},
		{in: "pin=%zz", bad: true},
		{in: "pin=%4", bad: true},
		{in: "pin=1&pin=2", bad: true},
	} {
		f, err := parseSecretForm([]byte(tc.in))
		if tc.bad {
			if err == nil {
				t.Errorf("%q: accepted", tc.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		got := map[string]string{}
		for k, v := range f.values {
			got[k] = string(v)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q (-want +got):\n%s", tc.in, d)
		}
		pin := f.Bytes("pin")
		f.Wipe()
		for _, b := range pin {
			if b != 0 {
				t.Errorf("%q: PIN not wiped", tc.in)
			}
		}
	}
}

func FuzzParseSecretForm(f *testing.F) {
	f.Add([]byte("csrf=abc&cert=c0-ff&pin=1234"))
	f.Add([]byte("pin=%41%zz"))
	f.Fuzz(func(t *testing.T, body []byte) {
		form, err := parseSecretForm(body)
		if err != nil {
			return
		}
		form.Wipe()
	})
}
