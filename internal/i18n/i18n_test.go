package i18n

import "testing"

func TestNegotiate(t *testing.T) {
	c := Catalog{"en": {"a": "A"}, "hi": {"a": "ए"}}
	for _, tt := range []struct{ h, want string }{
		{"", "en"},
		{"hi-IN,hi;q=0.9,en;q=0.8", "hi"},
		{"en-IN,en;q=0.9,hi;q=0.8", "en"},
		{"fr, hi;q=0.5", "hi"},
		{"hi;q=0, en", "en"},
		{"en;q=0.2, hi;q=0.7", "hi"},
		{"*", "en"},
		{"hi;q=abc", "en"},
	} {
		if got := c.Negotiate(tt.h, "en"); got != tt.want {
			t.Errorf("Negotiate(%q) = %q, want %q", tt.h, got, tt.want)
		}
	}
}

func TestPrinter(t *testing.T) {
	c := Catalog{"en": {"a": "A %s", "b": "B"}, "hi": {"a": "ए %s"}}
	if got := c.Printer("hi", "en").T("a", "x"); got != "ए x" {
		t.Errorf("hi a = %q", got)
	}
	if got := c.Printer("hi", "en").T("b"); got != "B" {
		t.Errorf("fallback = %q", got)
	}
	if got := c.Printer("fr", "en").T("z"); got != "z" {
		t.Errorf("unknown id = %q", got)
	}
	if m := c.Missing(); len(m) != 1 || m[0] != "hi: b" {
		t.Errorf("Missing = %v", m)
	}
}

func TestHTML(t *testing.T) {
	c := Catalog{"en": {"a": "<b>%s & %s</b>"}}
	got := c.Printer("en", "en").HTML("a", Elem("code", "x", "<1>"), Time("2026-01-02T03:04:05Z", "03:04 UTC"))
	want := `&lt;b&gt;<code id="x">&lt;1&gt;</code> &amp; <time datetime="2026-01-02T03:04:05Z">03:04 UTC</time>&lt;/b&gt;`
	if string(got) != want {
		t.Errorf("HTML = %s\nwant   %s", got, want)
	}
}
