package pdf

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"

	"github.com/securesign/securesign/internal/atomicfile"
	"github.com/securesign/securesign/signer"
)

// PreparedSignature is phase one of a two-phase signature: the digest the
// key must sign and the state Finish needs. It holds offsets, the signed
// attributes and the certificates, never document bytes, so it stays small
// (a few KiB) and survives a process restart via MarshalBinary.
type PreparedSignature struct {
	// Digest is what the key signs: the hash of the DER signed attributes
	// (the deep link's hashBase64). RSA PKCS#1 v1.5 signs it wrapped in a
	// DigestInfo, as crypto.Signer does.
	Digest []byte
	// Hash is the digest algorithm of Digest and of the document.
	Hash crypto.Hash
	// Algorithm is the signature algorithm the signature must use.
	Algorithm signer.Algorithm
	// Level is the PAdES level Finish will reach.
	Level Level
	// Certificate is the signer's certificate; Chain the intermediates.
	Certificate *x509.Certificate
	Chain       []*x509.Certificate

	signedAttrs []byte
	revBase     int64    // where the appended revision starts
	contentsAt  int64    // absolute offset of '<' of /Contents
	hexLen      int      // hex digits of room
	fileSize    int64    // size of the prepared file
	revDigest   [32]byte // SHA-256 of the prepared revision, to recognise the file
	inputState  []byte   // document hash state after the original input
}

// SignedAttributes returns a copy of the DER signed attributes (a SET, tag
// 0x31) whose hash under Hash is Digest. Their messageDigest is the hash of
// the prepared file over [PreparedSignature.ByteRange]: what a signing
// package (deeplink/sigpkg) hands the app so it can check the digest
// belongs to the document.
func (p *PreparedSignature) SignedAttributes() []byte { return bytes.Clone(p.signedAttrs) }

// ByteRange returns the /ByteRange of the prepared file: everything but the
// empty /Contents hex string, delimiters included.
func (p *PreparedSignature) ByteRange() [4]int64 {
	b := p.contentsAt + int64(p.hexLen) + 2
	return [4]int64{0, p.contentsAt, b, p.fileSize - b}
}

// Size returns the size of the prepared file in bytes.
func (p *PreparedSignature) Size() int64 { return p.fileSize }

// The serialised form; bump preparedVersion when it changes.
const (
	preparedMagic   = "SSPDFPREP"
	preparedVersion = 1
	maxPreparedSize = 64 << 10
)

type preparedJSON struct {
	Digest      []byte   `json:"digest"`
	Hash        uint     `json:"hash"`
	Algorithm   string   `json:"alg"`
	Level       string   `json:"level"`
	Certs       [][]byte `json:"certs"`
	SignedAttrs []byte   `json:"attrs"`
	RevBase     int64    `json:"revBase"`
	ContentsAt  int64    `json:"contentsAt"`
	HexLen      int      `json:"hexLen"`
	FileSize    int64    `json:"size"`
	RevDigest   []byte   `json:"revDigest"`
	InputState  []byte   `json:"inputState"`
}

// MarshalBinary encodes the state: a magic string, a version byte and a
// JSON body.
func (p *PreparedSignature) MarshalBinary() ([]byte, error) {
	if p.Certificate == nil {
		return nil, errors.New("pdf: prepared signature has no certificate")
	}
	j := preparedJSON{
		Digest: p.Digest, Hash: uint(p.Hash), Algorithm: string(p.Algorithm), Level: string(p.Level),
		SignedAttrs: p.signedAttrs, RevBase: p.revBase, ContentsAt: p.contentsAt, HexLen: p.hexLen,
		FileSize: p.fileSize, RevDigest: p.revDigest[:], InputState: p.inputState,
	}
	j.Certs = append(j.Certs, p.Certificate.Raw)
	for _, c := range p.Chain {
		j.Certs = append(j.Certs, c.Raw)
	}
	body, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	return append(append([]byte(preparedMagic), preparedVersion), body...), nil
}

// ErrPreparedState is returned for a state that cannot be decoded or does
// not belong to the prepared file it is used with.
var ErrPreparedState = errors.New("pdf: invalid prepared signature state")

// UnmarshalBinary decodes a state written by MarshalBinary.
func (p *PreparedSignature) UnmarshalBinary(data []byte) error {
	if len(data) > maxPreparedSize || len(data) < len(preparedMagic)+1 || string(data[:len(preparedMagic)]) != preparedMagic {
		return fmt.Errorf("%w: not a prepared signature", ErrPreparedState)
	}
	if v := data[len(preparedMagic)]; v != preparedVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrPreparedState, v, preparedVersion)
	}
	var j preparedJSON
	if err := json.Unmarshal(data[len(preparedMagic)+1:], &j); err != nil {
		return fmt.Errorf("%w: %v", ErrPreparedState, err)
	}
	if len(j.Certs) == 0 || len(j.RevDigest) != 32 {
		return fmt.Errorf("%w: incomplete", ErrPreparedState)
	}
	var certs []*x509.Certificate
	for _, der := range j.Certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return fmt.Errorf("%w: certificate: %v", ErrPreparedState, err)
		}
		certs = append(certs, c)
	}
	h := crypto.Hash(j.Hash)
	switch h {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return fmt.Errorf("%w: hash %d", ErrPreparedState, j.Hash)
	}
	if len(j.Digest) != h.Size() || Level(j.Level).rank() < 0 || j.HexLen <= 0 ||
		j.RevBase < 0 || j.ContentsAt < j.RevBase || j.ContentsAt+int64(j.HexLen)+2 > j.FileSize {
		return fmt.Errorf("%w: inconsistent offsets or sizes", ErrPreparedState)
	}
	*p = PreparedSignature{
		Digest: j.Digest, Hash: h, Algorithm: signer.Algorithm(j.Algorithm), Level: Level(j.Level),
		Certificate: certs[0], Chain: certs[1:], signedAttrs: j.SignedAttrs,
		revBase: j.RevBase, contentsAt: j.ContentsAt, hexLen: j.HexLen, fileSize: j.FileSize,
		inputState: j.InputState,
	}
	copy(p.revDigest[:], j.RevDigest)
	return nil
}

// Prepare is phase one: it writes src plus an appended revision with an
// empty signature to dst (the prepared file) and returns the digest to
// sign. Only opts.Level (and the appearance, reason, … fields) matter here;
// the timestamper and revocation source are used by Finish.
func Prepare(ctx context.Context, dst io.Writer, src io.ReaderAt, size int64, cert *x509.Certificate, chain []*x509.Certificate, opts SignOptions) (_ *PreparedSignature, err error) {
	defer recoverInternal(&err)
	o := opts
	o.Timestamper, o.Revocation = nil, nil
	lvl := o.Level
	o.Level = ""
	if lvl.rank() < 0 {
		return nil, fmt.Errorf("%w: unknown level %q", ErrOptions, lvl)
	}
	if lvl == "" {
		lvl = LevelBB
	}
	// Size the placeholder for the final level (a timestamp goes inside
	// the CMS), without requiring the timestamper yet.
	o.Level = LevelBB
	p, err := newPlanSized(ctx, src, size, cert, chain, &o, lvl.rank() >= 1)
	if err != nil {
		return nil, err
	}
	h := p.parts.Hash.New()
	if err := copyAndHash(ctx, dst, p.st.doc.src, p.st.doc.size, h); err != nil {
		return nil, err
	}
	inputState, err := marshalHash(h)
	if err != nil {
		return nil, err
	}
	p.rev.hashInto(h)
	attrs, err := signedAttributes(p.parts.Hash, h.Sum(nil), cert)
	if err != nil {
		return nil, err
	}
	if _, err := dst.Write(p.rev.data); err != nil {
		return nil, fmt.Errorf("pdf: writing prepared file: %w", err)
	}
	ah := p.parts.Hash.New()
	ah.Write(attrs)
	ps := &PreparedSignature{
		Digest: ah.Sum(nil), Hash: p.parts.Hash, Algorithm: p.parts.Algorithm, Level: lvl,
		Certificate: cert, Chain: append([]*x509.Certificate(nil), chain...),
		signedAttrs: attrs, revBase: p.rev.base, contentsAt: p.rev.base + int64(p.rev.contentsAt),
		hexLen: p.rev.hexLen, fileSize: p.rev.base + int64(len(p.rev.data)),
		revDigest: sha256.Sum256(p.rev.data), inputState: inputState,
	}
	return ps, nil
}

// PrepareFile is Prepare from inPath to preparedPath (written atomically).
func PrepareFile(ctx context.Context, inPath, preparedPath string, cert *x509.Certificate, chain []*x509.Certificate, opts SignOptions) (*PreparedSignature, error) {
	in, err := os.Open(inPath)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return nil, err
	}
	var ps *PreparedSignature
	err = atomicfile.Write(preparedPath, 0o644, func(f *os.File) error {
		var err error
		ps, err = Prepare(ctx, f, in, fi.Size(), cert, chain, opts)
		return err
	})
	return ps, err
}

// ReadWriterAt is a prepared file opened for reading and writing, such as
// an *os.File.
type ReadWriterAt interface {
	io.ReaderAt
	io.WriterAt
}

// normalizeSignature accepts ECDSA signatures as raw r||s too.
func normalizeSignature(pub any, sig []byte) []byte {
	k, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return sig
	}
	n := (k.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*n {
		return sig
	}
	var parsed struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(sig, &parsed); err == nil && len(rest) == 0 {
		return sig
	}
	der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(sig[:n]), new(big.Int).SetBytes(sig[n:])})
	if err != nil {
		return sig
	}
	return der
}

// finishPlan is a verified Finish ready to be written: the patch for
// /Contents and the revisions to append.
type finishPlan struct {
	contents []byte // hex, exactly hexLen digits
	appended []byte
}

func (p *PreparedSignature) plan(ctx context.Context, f io.ReaderAt, signature []byte, opts *SignOptions) (_ *finishPlan, err error) {
	defer recoverInternal(&err)
	if p == nil || p.Certificate == nil || len(p.revDigest) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrPreparedState)
	}
	signature = normalizeSignature(p.Certificate.PublicKey, signature)
	if err := signer.VerifyDigest(p.Certificate.PublicKey, p.Algorithm, p.Hash, p.Digest, signature); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSignatureMismatch, err)
	}
	// The prepared file must be exactly what Prepare wrote.
	revLen := p.fileSize - p.revBase
	if revLen <= 0 || revLen > 64<<20 {
		return nil, fmt.Errorf("%w: revision size", ErrPreparedState)
	}
	rev := make([]byte, revLen)
	if _, err := f.ReadAt(rev, p.revBase); err != nil {
		return nil, fmt.Errorf("%w: prepared file is shorter than recorded: %v", ErrPreparedState, err)
	}
	var one [1]byte
	if n, _ := f.ReadAt(one[:], p.fileSize); n != 0 {
		return nil, fmt.Errorf("%w: prepared file is longer than recorded (already finished?)", ErrPreparedState)
	}
	if sha256.Sum256(rev) != p.revDigest {
		return nil, fmt.Errorf("%w: prepared file does not match the state", ErrPreparedState)
	}
	level := p.Level
	if level.rank() >= 1 && opts.Timestamper == nil {
		return nil, fmt.Errorf("%w: level %s needs a Timestamper", ErrOptions, level)
	}
	if level.rank() >= 2 && opts.Revocation == nil {
		return nil, fmt.Errorf("%w: level %s needs a RevocationSource", ErrOptions, level)
	}
	parts := cmsParts{Hash: p.Hash, Algorithm: p.Algorithm, Certs: append([]*x509.Certificate{p.Certificate}, p.Chain...), SignedAttrs: p.signedAttrs}
	cms, err := parts.complete(ctx, signature, level, opts.Timestamper)
	if err != nil {
		return nil, err
	}
	sr := &sigRevision{data: rev, base: p.revBase, contentsAt: int(p.contentsAt - p.revBase), hexLen: p.hexLen}
	if err := sr.fill(cms); err != nil {
		return nil, err
	}
	fp := &finishPlan{contents: append([]byte(nil), rev[sr.contentsAt+1:sr.contentsAt+1+sr.hexLen]...)}
	if level.rank() < 2 {
		return fp, nil
	}
	h, err := unmarshalHash(p.Hash, p.inputState)
	if err != nil {
		return nil, err
	}
	h.Write(rev)
	// Read the prepared file's structure (xref, catalog); its /Contents
	// placeholder is irrelevant to that.
	doc, err := openDocument(ctx, f, p.fileSize, opts.Limits, opts.Password)
	if err != nil {
		return nil, err
	}
	st, err := stateFromDocument(doc)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	o := *opts
	if err := extendFromState(ctx, &buf, st, h, level, [][]byte{cms}, &o); err != nil {
		return nil, err
	}
	fp.appended = buf.Bytes()
	return fp, nil
}

func (p *PreparedSignature) apply(f io.WriterAt, fp *finishPlan) error {
	if _, err := f.WriteAt(fp.contents, p.contentsAt+1); err != nil {
		return fmt.Errorf("pdf: writing signature: %w", err)
	}
	if len(fp.appended) > 0 {
		if _, err := f.WriteAt(fp.appended, p.fileSize); err != nil {
			return fmt.Errorf("pdf: appending validation data: %w", err)
		}
	}
	return nil
}

// Finish is phase two: it checks signature against the prepared digest and
// certificate (a mismatch returns ErrSignatureMismatch and leaves f
// untouched), builds the CMS, gets the signature timestamp (B-T and
// above), the DSS (B-LT) and the document timestamp (B-LTA), and only then
// writes: the CMS into the placeholder, in place, and the further
// revisions at the end of f. opts supplies Timestamper, Revocation and
// Now; the level comes from p.
func Finish(ctx context.Context, f ReadWriterAt, p *PreparedSignature, signature []byte, opts SignOptions) error {
	fp, err := p.plan(ctx, f, signature, &opts)
	if err != nil {
		return err
	}
	return p.apply(f, fp)
}

// FinishFile is Finish on the prepared file at path. If writing fails
// half-way the file is cut back to its prepared size.
func FinishFile(ctx context.Context, path string, p *PreparedSignature, signature []byte, opts SignOptions) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	fp, err := p.plan(ctx, f, signature, &opts)
	if err != nil {
		f.Close()
		return err
	}
	if err := p.apply(f, fp); err != nil {
		// Put the placeholder back and drop anything appended.
		f.WriteAt(bytes.Repeat([]byte{'0'}, p.hexLen), p.contentsAt+1)
		f.Truncate(p.fileSize)
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BatchItem is one document of a batch: input and prepared output paths.
type BatchItem struct {
	In, Prepared string
}

// PrepareBatch prepares many documents for one signer, so that one token
// session (one PIN entry, one deep link with several hashBase64 values)
// can sign them all. The digests are in the returned states, in order.
func PrepareBatch(ctx context.Context, items []BatchItem, cert *x509.Certificate, chain []*x509.Certificate, opts SignOptions) ([]*PreparedSignature, error) {
	out := make([]*PreparedSignature, 0, len(items))
	for i, it := range items {
		ps, err := PrepareFile(ctx, it.In, it.Prepared, cert, chain, opts)
		if err != nil {
			for _, done := range items[:i] {
				os.Remove(done.Prepared)
			}
			return nil, fmt.Errorf("pdf: batch item %d (%s): %w", i, it.In, err)
		}
		out = append(out, ps)
	}
	return out, nil
}

// FinishBatch finishes prepared files with signatures in the same order.
// Every signature is verified before any file is written, so a wrong or
// misordered signature leaves all files untouched.
func FinishBatch(ctx context.Context, paths []string, states []*PreparedSignature, signatures [][]byte, opts SignOptions) error {
	if len(paths) != len(states) || len(states) != len(signatures) {
		return fmt.Errorf("%w: %d files, %d states, %d signatures", ErrOptions, len(paths), len(states), len(signatures))
	}
	for i, p := range states {
		if p == nil || p.Certificate == nil {
			return fmt.Errorf("%w: batch item %d", ErrPreparedState, i)
		}
		sig := normalizeSignature(p.Certificate.PublicKey, signatures[i])
		if err := signer.VerifyDigest(p.Certificate.PublicKey, p.Algorithm, p.Hash, p.Digest, sig); err != nil {
			return fmt.Errorf("pdf: batch item %d: %w: %w", i, ErrSignatureMismatch, err)
		}
	}
	for i := range states {
		if err := FinishFile(ctx, paths[i], states[i], signatures[i], opts); err != nil {
			return fmt.Errorf("pdf: batch item %d (%s): %w", i, paths[i], err)
		}
	}
	return nil
}
