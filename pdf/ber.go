package pdf

// A small BER reader for CMS. Java signers (BouncyCastle, Adobe's toolkit)
// write ContentInfo, SignedData and the certificate set with indefinite
// lengths and sometimes split OCTET STRINGs into constructed pieces; Go's
// encoding/asn1 reads DER only. berToDER re-encodes such input as DER so the
// strict parser can read it, and keeps every subtree that already is DER
// byte for byte: the signed attributes (which the signature covers and
// which must be DER) are never rewritten, only checked (berTree.der).

import (
	"errors"
	"fmt"
)

const (
	berMaxDepth = 64
	berMaxNodes = 1 << 16
)

var errBER = errors.New("BER")

// berNode is one element of a BER encoding.
type berNode struct {
	class, tag  int
	constructed bool
	raw         []byte // the element's bytes in the input, header included
	content     []byte // primitive content (input bytes)
	kids        []*berNode
	// der: this element and all below it use definite minimal lengths,
	// primitive strings and no other BER-only form
	der bool
}

type berParser struct{ nodes int }

// berParse reads one element from b and returns it and the bytes after it.
func berParse(b []byte) (*berNode, []byte, error) {
	p := &berParser{}
	return p.parse(b, 0)
}

func (p *berParser) parse(b []byte, depth int) (*berNode, []byte, error) {
	if depth > berMaxDepth {
		return nil, nil, fmt.Errorf("%w: nested too deeply", errBER)
	}
	if p.nodes++; p.nodes > berMaxNodes {
		return nil, nil, fmt.Errorf("%w: too many elements", errBER)
	}
	if len(b) < 2 {
		return nil, nil, fmt.Errorf("%w: truncated", errBER)
	}
	n := &berNode{class: int(b[0] >> 6), constructed: b[0]&0x20 != 0, der: true}
	i := 1
	if t := int(b[0] & 0x1f); t != 0x1f {
		n.tag = t
	} else {
		// high tag number form
		t = 0
		for {
			if i >= len(b) || i > 4 {
				return nil, nil, fmt.Errorf("%w: bad tag", errBER)
			}
			c := b[i]
			i++
			t = t<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		if t < 0x1f || b[1] == 0x80 {
			n.der = false
		}
		n.tag = t
	}
	if i >= len(b) {
		return nil, nil, fmt.Errorf("%w: truncated", errBER)
	}
	lb := b[i]
	i++
	switch {
	case lb == 0x80: // indefinite
		if !n.constructed {
			return nil, nil, fmt.Errorf("%w: indefinite length on a primitive element", errBER)
		}
		n.der = false
		rest := b[i:]
		for {
			if len(rest) >= 2 && rest[0] == 0 && rest[1] == 0 {
				rest = rest[2:]
				break
			}
			if len(rest) == 0 {
				return nil, nil, fmt.Errorf("%w: missing end-of-contents", errBER)
			}
			k, r, err := p.parse(rest, depth+1)
			if err != nil {
				return nil, nil, err
			}
			n.kids = append(n.kids, k)
			rest = r
		}
		n.raw = b[:len(b)-len(rest)]
		return n, rest, nil
	case lb&0x80 == 0:
		return p.finish(n, b, i, int(lb), depth)
	default:
		nb := int(lb & 0x7f)
		if nb > 4 || i+nb > len(b) {
			return nil, nil, fmt.Errorf("%w: bad length", errBER)
		}
		l := 0
		for _, c := range b[i : i+nb] {
			l = l<<8 | int(c)
		}
		// DER: the shortest length form
		if l < 0x80 || b[i] == 0 {
			n.der = false
		}
		return p.finish(n, b, i+nb, l, depth)
	}
}

func (p *berParser) finish(n *berNode, b []byte, hdr, l, depth int) (*berNode, []byte, error) {
	if l < 0 || l > len(b)-hdr {
		return nil, nil, fmt.Errorf("%w: length %d past the end", errBER, l)
	}
	n.raw = b[:hdr+l]
	body := b[hdr : hdr+l]
	if !n.constructed {
		n.content = body
		return n, b[hdr+l:], nil
	}
	for len(body) > 0 {
		k, r, err := p.parse(body, depth+1)
		if err != nil {
			return nil, nil, err
		}
		n.kids = append(n.kids, k)
		n.der = n.der && k.der
		body = r
	}
	if n.class == 0 && berStringTag(n.tag) {
		n.der = false // a constructed string is BER only
	}
	return n, b[hdr+l:], nil
}

// berStringTag: universal string types that BER may split into pieces.
func berStringTag(t int) bool {
	switch t {
	case 3, 4, 12, 19, 20, 22, 26, 28, 30: // BIT, OCTET, UTF8, Printable, T61, IA5, Visible, Universal, BMP
		return true
	}
	return false
}

// encodeDER returns the DER encoding of n (n.raw when it already is DER).
func (n *berNode) encodeDER() ([]byte, error) {
	if n.der {
		return n.raw, nil
	}
	var body []byte
	switch {
	case !n.constructed:
		body = n.content
	case n.class == 0 && berStringTag(n.tag):
		// a constructed string: the concatenation of its primitive pieces
		var err error
		if body, err = n.flatten(nil, n.tag); err != nil {
			return nil, err
		}
	default:
		for _, k := range n.kids {
			e, err := k.encodeDER()
			if err != nil {
				return nil, err
			}
			body = append(body, e...)
		}
	}
	constructed := n.constructed && !(n.class == 0 && berStringTag(n.tag))
	return append(berHeader(n.class, n.tag, constructed, len(body)), body...), nil
}

func (n *berNode) flatten(out []byte, tag int) ([]byte, error) {
	for _, k := range n.kids {
		if k.class != 0 || k.tag != tag {
			return nil, fmt.Errorf("%w: a piece of a constructed string has another type", errBER)
		}
		if !k.constructed {
			if tag == 3 && len(k.content) > 0 && len(out) > 0 {
				// BIT STRING pieces: only the last may have unused bits
				out = append(out, k.content[1:]...)
				continue
			}
			out = append(out, k.content...)
			continue
		}
		var err error
		if out, err = k.flatten(out, tag); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func berHeader(class, tag int, constructed bool, l int) []byte {
	var h []byte
	b0 := byte(class << 6)
	if constructed {
		b0 |= 0x20
	}
	if tag < 0x1f {
		h = append(h, b0|byte(tag))
	} else {
		h = append(h, b0|0x1f)
		var t []byte
		for x := tag; ; x >>= 7 {
			t = append([]byte{byte(x & 0x7f)}, t...)
			if x < 0x80 {
				break
			}
		}
		for i := 0; i < len(t)-1; i++ {
			t[i] |= 0x80
		}
		h = append(h, t...)
	}
	switch {
	case l < 0x80:
		h = append(h, byte(l))
	case l < 1<<8:
		h = append(h, 0x81, byte(l))
	case l < 1<<16:
		h = append(h, 0x82, byte(l>>8), byte(l))
	case l < 1<<24:
		h = append(h, 0x83, byte(l>>16), byte(l>>8), byte(l))
	default:
		h = append(h, 0x84, byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	}
	return h
}

// berToDER reads one BER element from b and returns its DER encoding, the
// parsed tree (for checks on parts that must have been DER already; nil
// when the input was DER throughout) and the bytes after the element.
func berToDER(b []byte) (der []byte, tree *berNode, rest []byte, err error) {
	if n, ok := derLen(b, 0); ok {
		// already DER: no tree (tree == nil means "all DER")
		return b[:n], nil, b[n:], nil
	}
	tree, rest, err = berParse(b)
	if err != nil {
		return nil, nil, nil, err
	}
	der, err = tree.encodeDER()
	if err != nil {
		return nil, nil, nil, err
	}
	return der, tree, rest, nil
}

// derLen reports whether b starts with one element that is DER as far as
// berNode.der goes (definite minimal lengths, primitive strings), and its
// length. It allocates nothing: signatures made by DER writers, the usual
// case, skip the tree.
func derLen(b []byte, depth int) (int, bool) {
	if depth > berMaxDepth || len(b) < 2 {
		return 0, false
	}
	constructed := b[0]&0x20 != 0
	tag := int(b[0] & 0x1f)
	i := 1
	if tag == 0x1f {
		tag = 0
		for {
			if i >= len(b) || i > 4 {
				return 0, false
			}
			c := b[i]
			if i == 1 && c == 0x80 {
				return 0, false
			}
			i++
			tag = tag<<7 | int(c&0x7f)
			if c&0x80 == 0 {
				break
			}
		}
		if tag < 0x1f {
			return 0, false
		}
	}
	if i >= len(b) {
		return 0, false
	}
	lb := b[i]
	i++
	l := 0
	switch {
	case lb == 0x80:
		return 0, false
	case lb&0x80 == 0:
		l = int(lb)
	default:
		nb := int(lb & 0x7f)
		if nb > 4 || i+nb > len(b) || b[i] == 0 {
			return 0, false
		}
		for _, c := range b[i : i+nb] {
			l = l<<8 | int(c)
		}
		if l < 0x80 {
			return 0, false
		}
		i += nb
	}
	if l < 0 || l > len(b)-i {
		return 0, false
	}
	if constructed {
		if b[0]>>6 == 0 && berStringTag(tag) {
			return 0, false
		}
		body := b[i : i+l]
		for len(body) > 0 {
			n, ok := derLen(body, depth+1)
			if !ok {
				return 0, false
			}
			body = body[n:]
		}
	}
	return i + l, true
}
