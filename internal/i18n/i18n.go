// Package i18n holds the small message catalogues of the customer pages
// (Desktop Software, example portal, gateway result page): one map per
// language keyed by message id, and Accept-Language negotiation.
//
// The pages have a few dozen strings in two languages, so a map and a
// twenty-line header parser do what a message framework would.
package i18n

import (
	"fmt"
	"html"
	"html/template"
	"sort"
	"strconv"
	"strings"
)

// Catalog maps a language tag ("en", "hi") to its messages by id. The
// first language given to [Catalog.Negotiate] as fallback is the one used
// for ids missing elsewhere.
type Catalog map[string]map[string]string

// Printer renders messages in one language.
type Printer struct {
	Lang     string
	cat      Catalog
	fallback string
}

// Printer returns a printer for lang, falling back to fallback for ids
// lang lacks (a test keeps every id in both languages, so this is only a
// guard against a panic-free blank).
func (c Catalog) Printer(lang, fallback string) *Printer {
	if _, ok := c[lang]; !ok {
		lang = fallback
	}
	return &Printer{Lang: lang, cat: c, fallback: fallback}
}

// T returns message id formatted with args (fmt verbs), or the id itself
// when no language has it.
func (p *Printer) T(id string, args ...any) string {
	s, ok := p.cat[p.Lang][id]
	if !ok {
		if s, ok = p.cat[p.fallback][id]; !ok {
			return id
		}
	}
	if len(args) == 0 {
		return s
	}
	return fmt.Sprintf(s, args...)
}

// Has reports whether id is a message of the printer's language or of
// its fallback.
func (p *Printer) Has(id string) bool {
	if _, ok := p.cat[p.Lang][id]; ok {
		return true
	}
	_, ok := p.cat[p.fallback][id]
	return ok
}

// Negotiate picks the language of c the Accept-Language header prefers,
// or fallback. Only primary subtags are compared ("hi-IN" matches "hi").
func (c Catalog) Negotiate(acceptLanguage, fallback string) string {
	type pref struct {
		tag string
		q   float64
		i   int
	}
	var prefs []pref
	for i, part := range strings.Split(acceptLanguage, ",") {
		if i >= 32 { // a header is attacker-sized; the first few decide
			break
		}
		fields := strings.Split(part, ";")
		tag := strings.ToLower(strings.TrimSpace(fields[0]))
		q := 1.0
		for _, f := range fields[1:] {
			f = strings.TrimSpace(f)
			if v, ok := strings.CutPrefix(f, "q="); ok {
				if x, err := strconv.ParseFloat(v, 64); err == nil && x >= 0 && x <= 1 {
					q = x
				} else {
					q = 0
				}
			}
		}
		if tag == "" || q == 0 {
			continue
		}
		if base, _, ok := strings.Cut(tag, "-"); ok {
			tag = base
		}
		prefs = append(prefs, pref{tag, q, i})
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	for _, p := range prefs {
		if p.tag == "*" {
			return fallback
		}
		if _, ok := c[p.tag]; ok {
			return p.tag
		}
	}
	return fallback
}

// Missing returns, per language, the ids some other language has and it
// lacks, sorted; empty when the catalogue is complete.
func (c Catalog) Missing() []string {
	var out []string
	for lang, msgs := range c {
		for other, om := range c {
			if other == lang {
				continue
			}
			for id := range om {
				if _, ok := msgs[id]; !ok {
					out = append(out, lang+": "+id)
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// VerbsMatch returns the ids whose translations use different fmt verbs
// than the fallback language (a Hindi string that drops a %s shows
// "%!(EXTRA…)").
func (c Catalog) VerbsMatch(fallback string) []string {
	var out []string
	for lang, msgs := range c {
		if lang == fallback {
			continue
		}
		for id, s := range msgs {
			if base, ok := c[fallback][id]; ok && strings.Count(base, "%") != strings.Count(s, "%") {
				out = append(out, lang+": "+id)
			}
		}
	}
	sort.Strings(out)
	return out
}

// HTML renders message id with args already safe HTML (an element the
// caller built with escaped text): the catalogue text is escaped, the
// arguments are put in as they are.
func (p *Printer) HTML(id string, args ...template.HTML) template.HTML {
	marks := make([]any, len(args))
	for i := range marks {
		marks[i] = "\x00" + strconv.Itoa(i) + "\x00"
	}
	s := html.EscapeString(p.T(id, marks...))
	for i, a := range args {
		s = strings.ReplaceAll(s, "\x00"+strconv.Itoa(i)+"\x00", string(a))
	}
	return template.HTML(s)
}

// Time is a <time> element for RFC 3339 iso with text as its fallback: the
// page's script rewrites it into the viewer's zone.
func Time(iso, text string) template.HTML {
	return template.HTML(`<time datetime="` + html.EscapeString(iso) + `">` + html.EscapeString(text) + `</time>`)
}

// Elem is <tag id="id">text</tag> with text escaped.
func Elem(tag, id, text string) template.HTML {
	return template.HTML("<" + tag + ` id="` + html.EscapeString(id) + `">` + html.EscapeString(text) + "</" + tag + ">")
}

// ShortName is how the customer pages name a certificate's holder: "Rajesh
// Kumar" becomes "Rajesh K.".
func ShortName(cn string) string {
	f := strings.Fields(cn)
	if len(f) < 2 {
		return cn
	}
	last := []rune(f[len(f)-1])
	return strings.Join(f[:len(f)-1], " ") + " " + string(last[0]) + "."
}
