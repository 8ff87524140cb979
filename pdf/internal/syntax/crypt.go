package syntax

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/md5"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// ErrPassword reports an encrypted document that does not open with the
// empty user password nor with the password given.
var ErrPassword = errors.New("pdf password required or wrong")

// ErrEncryption wraps every other failure to set up decryption: an
// unsupported security handler or algorithm, or a damaged /Encrypt.
var ErrEncryption = errors.New("pdf encryption not readable")

// cryptMethod is how strings or streams of the document are encrypted.
type cryptMethod byte

const (
	cryptNone  cryptMethod = iota // Identity
	cryptRC4                      // V1/V2 and CFM /V2
	cryptAESV2                    // AES-128-CBC
	cryptAESV3                    // AES-256-CBC, the file key used directly
)

// Crypt is the standard security handler of an encrypted document with its
// file key: it decrypts what is read and encrypts what is appended, so new
// revisions use the document's own encryption.
type Crypt struct {
	V, R       int
	key        []byte
	str, stm   cryptMethod
	encMeta    bool
	encryptNum uint32 // the /Encrypt dictionary's object (never encrypted); 0 if direct
	std        *stdParams
	// Owner reports that the password given was the owner password.
	Owner bool
}

// padding is the 32-byte password padding of ISO 32000-1 7.6.3.3.
var padding = []byte{0x28, 0xBF, 0x4E, 0x5E, 0x4E, 0x75, 0x8A, 0x41, 0x64, 0x00, 0x4E, 0x56, 0xFF, 0xFA, 0x01, 0x08,
	0x2E, 0x2E, 0x00, 0xB6, 0xD0, 0x68, 0x3E, 0x80, 0x2F, 0x0C, 0xA9, 0xFE, 0x64, 0x53, 0x69, 0x7A}

func padPassword(pw []byte) []byte {
	out := make([]byte, 0, 32)
	out = append(out, pw[:min(len(pw), 32)]...)
	return append(out, padding[:32-len(out)]...)
}

// setupCrypt reads the newest trailer's /Encrypt and authenticates with
// the empty user password, then with password as user and as owner.
func (f *File) setupCrypt(password []byte) error {
	tr := f.Revisions[len(f.Revisions)-1].Trailer
	encObj := tr["Encrypt"]
	var encNum uint32
	if r, ok := encObj.(Ref); ok {
		encNum = r.Num
	}
	// read before f.crypt is set: the /Encrypt dictionary is not encrypted
	ed, err := f.ResolveDict(len(f.Revisions)-1, encObj)
	if err != nil {
		return fmt.Errorf("/Encrypt: %w", err)
	}
	if ed == nil {
		return syntaxErr(0, "/Encrypt is not a dictionary")
	}
	if flt, _ := ed.Name("Filter"); flt != "Standard" {
		return fmt.Errorf("security handler /%s: %w", flt, ErrUnsupported)
	}
	var id0 []byte
	if ids, ok := tr["ID"].(Array); ok && len(ids) > 0 {
		if s, ok := ids[0].(String); ok {
			id0 = s.Bytes
		}
	}
	c, err := newCrypt(ed, id0)
	if err != nil {
		return err
	}
	c.encryptNum = encNum
	// the password given first, so that an owner password is known as one
	tries := [][]byte{nil}
	if len(password) > 0 {
		tries = [][]byte{password, nil}
	}
	for _, pw := range tries {
		if c.authUser(pw) {
			f.crypt = c
			return nil
		}
		if c.authOwner(pw) {
			c.Owner = true
			f.crypt = c
			return nil
		}
	}
	if len(password) == 0 {
		return fmt.Errorf("document is encrypted with a user password: %w", ErrPassword)
	}
	return fmt.Errorf("the password given opens neither as user nor as owner: %w", ErrPassword)
}

// standard security handler parameters
type stdParams struct {
	o, u, oe, ue []byte
	p            int32
	length       int // key bytes (R2-R4)
	id0          []byte
}

func newCrypt(ed Dict, id0 []byte) (*Crypt, error) {
	v, _ := ed.Int("V")
	r, _ := ed.Int("R")
	c := &Crypt{V: int(v), R: int(r), encMeta: true}
	if b, ok := ed["EncryptMetadata"].(bool); ok {
		c.encMeta = b
	}
	sp := &stdParams{id0: id0, length: 5}
	str := func(k Name) []byte {
		s, _ := ed[k].(String)
		return s.Bytes
	}
	sp.o, sp.u, sp.oe, sp.ue = str("O"), str("U"), str("OE"), str("UE")
	p, _ := ed.Int("P")
	sp.p = int32(uint32(p))
	if l, ok := ed.Int("Length"); ok && c.V >= 2 {
		if l%8 != 0 || l < 40 || l > 256 {
			return nil, syntaxErr(0, "/Encrypt /Length %d", l)
		}
		sp.length = int(l / 8)
	}
	switch c.V {
	case 1:
		c.str, c.stm, sp.length = cryptRC4, cryptRC4, 5
	case 2:
		c.str, c.stm = cryptRC4, cryptRC4
	case 4, 5:
		cf, _ := ed["CF"].(Dict)
		method := func(k Name) (cryptMethod, error) {
			name, ok := ed.Name(k)
			if !ok || name == "Identity" {
				return cryptNone, nil
			}
			fd, _ := cf[name].(Dict)
			cfm, _ := fd.Name("CFM")
			switch cfm {
			case "V2":
				if l, ok := fd.Int("Length"); ok && c.V == 4 && l >= 5 && l <= 16 {
					sp.length = int(l) // some writers give bytes here
				}
				return cryptRC4, nil
			case "AESV2":
				sp.length = 16
				return cryptAESV2, nil
			case "AESV3":
				return cryptAESV3, nil
			case "None":
				return cryptNone, nil
			}
			return 0, fmt.Errorf("crypt filter /CFM /%s: %w", cfm, ErrUnsupported)
		}
		var err error
		if c.str, err = method("StrF"); err != nil {
			return nil, err
		}
		if c.stm, err = method("StmF"); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("encryption /V %d: %w", c.V, ErrUnsupported)
	}
	switch {
	case c.R >= 2 && c.R <= 4:
		if len(sp.o) < 32 || len(sp.u) < 32 {
			return nil, syntaxErr(0, "/Encrypt /O or /U too short")
		}
		sp.o, sp.u = sp.o[:32], sp.u[:32]
	case c.R == 5 || c.R == 6:
		if len(sp.o) < 48 || len(sp.u) < 48 || len(sp.oe) < 32 || len(sp.ue) < 32 {
			return nil, syntaxErr(0, "/Encrypt /O, /U, /OE or /UE too short")
		}
		sp.o, sp.u, sp.oe, sp.ue = sp.o[:48], sp.u[:48], sp.oe[:32], sp.ue[:32]
	default:
		return nil, fmt.Errorf("standard security handler revision %d: %w", c.R, ErrUnsupported)
	}
	c.std = sp
	return c, nil
}

// fileKey is algorithm 2 (R2-R4).
func (c *Crypt) fileKey(pw []byte) []byte {
	sp := c.std
	h := md5.New()
	h.Write(padPassword(pw))
	h.Write(sp.o)
	var p [4]byte
	binary.LittleEndian.PutUint32(p[:], uint32(sp.p))
	h.Write(p[:])
	h.Write(sp.id0)
	if c.R >= 4 && !c.encMeta {
		h.Write([]byte{0xff, 0xff, 0xff, 0xff})
	}
	sum := h.Sum(nil)
	n := sp.length
	if c.R == 2 {
		n = 5
	}
	if c.R >= 3 {
		for i := 0; i < 50; i++ {
			s := md5.Sum(sum[:n])
			sum = s[:]
		}
	}
	return sum[:n]
}

func rc4Crypt(key, data []byte) []byte {
	ci, err := rc4.NewCipher(key)
	if err != nil {
		return nil
	}
	out := make([]byte, len(data))
	ci.XORKeyStream(out, data)
	return out
}

func xorKey(key []byte, i byte) []byte {
	k := make([]byte, len(key))
	for j := range key {
		k[j] = key[j] ^ i
	}
	return k
}

func (c *Crypt) authUser(pw []byte) bool {
	sp := c.std
	if c.R >= 5 {
		return c.authAES256(pw, false)
	}
	key := c.fileKey(pw)
	var ok bool
	if c.R == 2 {
		ok = subtle.ConstantTimeCompare(rc4Crypt(key, padding), sp.u) == 1
	} else {
		h := md5.New()
		h.Write(padding)
		h.Write(sp.id0)
		x := rc4Crypt(key, h.Sum(nil))
		for i := byte(1); i <= 19; i++ {
			x = rc4Crypt(xorKey(key, i), x)
		}
		ok = subtle.ConstantTimeCompare(x[:16], sp.u[:16]) == 1
	}
	if ok {
		c.key = key
	}
	return ok
}

func (c *Crypt) authOwner(pw []byte) bool {
	sp := c.std
	if c.R >= 5 {
		return c.authAES256(pw, true)
	}
	sum := md5.Sum(padPassword(pw))
	h := sum[:]
	n := sp.length
	if c.R == 2 {
		n = 5
	}
	if c.R >= 3 {
		for i := 0; i < 50; i++ {
			s := md5.Sum(h[:n])
			h = s[:]
		}
	}
	key := h[:n]
	var user []byte
	if c.R == 2 {
		user = rc4Crypt(key, sp.o)
	} else {
		user = sp.o
		for i := 19; i >= 0; i-- {
			user = rc4Crypt(xorKey(key, byte(i)), user)
		}
	}
	// the decrypted value is the padded user password
	return c.authUser(unpad(user))
}

// unpad strips the padding string's tail from a padded password.
func unpad(p []byte) []byte {
	for n := 0; n <= 32 && n <= len(p); n++ {
		if bytes.Equal(p[n:], padding[:len(p)-n]) {
			return p[:n]
		}
	}
	return p
}

// hash2B is algorithm 2.B of ISO 32000-2 (R6); R5 is plain SHA-256.
func (c *Crypt) hash2B(pw, salt, udata []byte) []byte {
	h := sha256.New()
	h.Write(pw)
	h.Write(salt)
	h.Write(udata)
	k := h.Sum(nil)
	if c.R == 5 {
		return k
	}
	for i := 0; ; i++ {
		k1 := make([]byte, 0, 64*(len(pw)+len(k)+len(udata)))
		for j := 0; j < 64; j++ {
			k1 = append(k1, pw...)
			k1 = append(k1, k...)
			k1 = append(k1, udata...)
		}
		blk, _ := aes.NewCipher(k[:16])
		e := make([]byte, len(k1))
		cipher.NewCBCEncrypter(blk, k[16:32]).CryptBlocks(e, k1)
		sum := 0
		for _, b := range e[:16] {
			sum += int(b)
		}
		var hh hash.Hash
		switch sum % 3 {
		case 0:
			hh = sha256.New()
		case 1:
			hh = sha512.New384()
		default:
			hh = sha512.New()
		}
		hh.Write(e)
		k = hh.Sum(nil)
		if i >= 63 && int(e[len(e)-1]) <= i+1-32 {
			break
		}
	}
	return k[:32]
}

func (c *Crypt) authAES256(pw []byte, owner bool) bool {
	sp := c.std
	if len(pw) > 127 {
		pw = pw[:127]
	}
	var udata, hashv, vsalt, ksalt, enc []byte
	if owner {
		udata, hashv, vsalt, ksalt, enc = sp.u[:48], sp.o[:32], sp.o[32:40], sp.o[40:48], sp.oe
	} else {
		hashv, vsalt, ksalt, enc = sp.u[:32], sp.u[32:40], sp.u[40:48], sp.ue
	}
	if subtle.ConstantTimeCompare(c.hash2B(pw, vsalt, udata), hashv) != 1 {
		return false
	}
	ik := c.hash2B(pw, ksalt, udata)
	blk, err := aes.NewCipher(ik)
	if err != nil {
		return false
	}
	key := make([]byte, 32)
	cipher.NewCBCDecrypter(blk, make([]byte, 16)).CryptBlocks(key, enc[:32])
	c.key = key
	return true
}

// objectKey is algorithm 1: the key for one object's strings and streams.
func (c *Crypt) objectKey(ref Ref, m cryptMethod) []byte {
	if m == cryptAESV3 {
		return c.key
	}
	h := md5.New()
	h.Write(c.key)
	h.Write([]byte{byte(ref.Num), byte(ref.Num >> 8), byte(ref.Num >> 16), byte(ref.Gen), byte(ref.Gen >> 8)})
	if m == cryptAESV2 {
		h.Write([]byte("sAlT"))
	}
	return h.Sum(nil)[:min(len(c.key)+5, 16)]
}

func (c *Crypt) decrypt(ref Ref, m cryptMethod, data []byte) ([]byte, error) {
	switch m {
	case cryptNone:
		return data, nil
	case cryptRC4:
		return rc4Crypt(c.objectKey(ref, m), data), nil
	}
	if len(data) == 0 {
		return data, nil // some writers leave empty strings unencrypted
	}
	if len(data) < 16 || len(data)%16 != 0 {
		return nil, syntaxErr(0, "object %v: AES data of %d bytes is not whole blocks after the IV", ref, len(data))
	}
	blk, err := aes.NewCipher(c.objectKey(ref, m))
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(data)-16)
	cipher.NewCBCDecrypter(blk, data[:16]).CryptBlocks(out, data[16:])
	if n := len(out); n > 0 {
		if pad := int(out[n-1]); pad >= 1 && pad <= 16 && pad <= n {
			out = out[:n-pad]
		}
	}
	return out, nil
}

func (c *Crypt) encrypt(ref Ref, m cryptMethod, data []byte) []byte {
	switch m {
	case cryptNone:
		return data
	case cryptRC4:
		return rc4Crypt(c.objectKey(ref, m), data)
	}
	blk, _ := aes.NewCipher(c.objectKey(ref, m))
	pad := 16 - len(data)%16
	plain := append(append([]byte(nil), data...), bytes.Repeat([]byte{byte(pad)}, pad)...)
	out := make([]byte, 16+len(plain))
	if _, err := rand.Read(out[:16]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	cipher.NewCBCEncrypter(blk, out[:16]).CryptBlocks(out[16:], plain)
	return out
}

// EncryptString encrypts a string of object ref for writing.
func (c *Crypt) EncryptString(ref Ref, data []byte) []byte { return c.encrypt(ref, c.str, data) }

// EncryptStream encrypts the (already filtered) data of stream ref.
func (c *Crypt) EncryptStream(ref Ref, data []byte) []byte { return c.encrypt(ref, c.stm, data) }

// Crypt returns the document's security handler, nil if not encrypted.
func (f *File) Crypt() *Crypt { return f.crypt }

// skipDecrypt reports dictionaries whose strings are not encrypted: the
// cross-reference stream's.
func skipDict(d Dict) bool {
	t, _ := d.Name("Type")
	return t == "XRef"
}

// decryptObject decrypts the strings of an object read directly from the
// file (objects inside object streams are covered by the stream's own
// encryption). A signature dictionary's /Contents is never encrypted.
func (f *File) decryptObject(ref Ref, o Object) (Object, error) {
	c := f.crypt
	if c == nil || (ref.Num == c.encryptNum && c.encryptNum != 0) {
		return o, nil
	}
	var walk func(o Object, depth int) (Object, error)
	walk = func(o Object, depth int) (Object, error) {
		if depth > f.lim.MaxDepth {
			return nil, &LimitError{Limit: "MaxDepth", Max: int64(f.lim.MaxDepth)}
		}
		switch x := o.(type) {
		case String:
			b, err := c.decrypt(ref, c.str, x.Bytes)
			if err != nil {
				return nil, err
			}
			return String{Bytes: b, Hex: x.Hex}, nil
		case Array:
			for i, v := range x {
				nv, err := walk(v, depth+1)
				if err != nil {
					return nil, err
				}
				x[i] = nv
			}
			return x, nil
		case Dict:
			if skipDict(x) {
				return x, nil
			}
			_, sig := x["ByteRange"]
			for k, v := range x {
				if sig && k == "Contents" {
					continue
				}
				nv, err := walk(v, depth+1)
				if err != nil {
					return nil, err
				}
				x[k] = nv
			}
			return x, nil
		case *Stream:
			if _, err := walk(x.Dict, depth+1); err != nil {
				return nil, err
			}
			return x, nil
		}
		return o, nil
	}
	return walk(o, 0)
}

// decryptStream decrypts the raw data of a stream read from the file.
func (f *File) decryptStream(s *Stream, raw []byte) ([]byte, error) {
	c := f.crypt
	if c == nil || s.data != nil || skipDict(s.Dict) || (s.Ref.Num == c.encryptNum && c.encryptNum != 0) {
		return raw, nil
	}
	if t, _ := s.Dict.Name("Type"); t == "Metadata" && !c.encMeta {
		return raw, nil
	}
	return c.decrypt(s.Ref, c.stm, raw)
}
