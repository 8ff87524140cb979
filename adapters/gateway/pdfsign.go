package gateway

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/pdf"
	"github.com/securesign/securesign/pki"
	"github.com/securesign/securesign/signer"
)

// pdfPart is one prepared document of a PDF session.
type pdfPart struct {
	File  string `json:"file"`  // prepared file, under <data>/files
	State []byte `json:"state"` // pdf.PreparedSignature.MarshalBinary
}

type position struct {
	X      float64 `json:"x" validate:"gte=0"`
	Y      float64 `json:"y" validate:"gte=0"`
	Width  float64 `json:"width" validate:"gt=0"`
	Height float64 `json:"height" validate:"gt=0"`
}

type appearanceReq struct {
	Text        string `json:"text" validate:"omitempty,max=500"`
	ImageBase64 string `json:"imageBase64" validate:"omitempty,base64,max=1000000"`
}

// pdfOptions are the signing options of sign/pdf and sign/batch.
type pdfOptions struct {
	Level       string         `json:"level" validate:"omitempty,oneof=B-B B-T B-LT B-LTA"`
	Reason      string         `json:"reason" validate:"omitempty,max=200"`
	Location    string         `json:"location" validate:"omitempty,max=200"`
	ContactInfo string         `json:"contactInfo" validate:"omitempty,max=200"`
	Visible     bool           `json:"visible"`
	Page        int            `json:"page" validate:"omitempty,min=1,max=100000"`
	Position    *position      `json:"position"`
	Appearance  *appearanceReq `json:"appearance"`
	FieldName   string         `json:"fieldName" validate:"omitempty,max=100,printascii"`
	Certify     bool           `json:"certify"`
	// Password opens a PDF encrypted with a user password (documents with
	// only an owner password need none). It is used for this request only,
	// never stored or logged.
	Password string `json:"password" validate:"omitempty,max=127"`
}

type signPDFReq struct {
	PDFBase64     string `json:"pdfBase64"`
	CertSerial    string `json:"certSerial" validate:"omitempty,max=64"`
	CertificateID string `json:"certificateId" validate:"omitempty,max=64"`
	OTPID         string `json:"otpId" validate:"omitempty,max=64"`
	OTP           string `json:"otp" validate:"omitempty,max=12"`
	CallbackURL   string `json:"callbackUrl" validate:"omitempty,max=1000"`
	ReturnURL     string `json:"returnUrl" validate:"omitempty,max=1000"`
	Platform      string `json:"platform" validate:"omitempty,max=40"`
	Doc           string `json:"doc" validate:"omitempty,max=200"`
	// PackageInLink names the signing package in the link even when the
	// link is on the portal's own origin (its callbackUrl) and its
	// digests fit (protocol 1.2 §6.6): for a portal whose users' apps take
	// packages from this gateway. Default: the gateway's
	// --package-on-portal-links.
	PackageInLink bool `json:"packageInLink"`
	pdfOptions
	// names are the batch items' names, shown for each document of the
	// signing package (empty: doc, numbered).
	names []string
}

// signOptions turns request options into pdf.SignOptions, with the
// gateway's own TSA and revocation checker.
func (s *Server) signOptions(o *pdfOptions) (pdf.SignOptions, error) {
	opts := pdf.SignOptions{Level: pdf.Level(o.Level), Reason: o.Reason, Location: o.Location, ContactInfo: o.ContactInfo,
		FieldName: o.FieldName, Certify: o.Certify, Now: s.cfg.Now, Timestamper: s.tsa, Revocation: s.revocationFor(),
		ExtraCertificates: []*x509.Certificate{s.ca.Root()}, Limits: pdfLimits}
	if opts.Level == "" {
		opts.Level = pdf.LevelBB
	}
	if o.Password != "" {
		opts.Password = []byte(o.Password)
	}
	if o.Visible || o.Position != nil || o.Appearance != nil {
		a := &pdf.Appearance{Page: o.Page, X: 36, Y: 36, Width: 200, Height: 60}
		if o.Position != nil {
			a.X, a.Y, a.Width, a.Height = o.Position.X, o.Position.Y, o.Position.Width, o.Position.Height
		}
		if o.Appearance != nil {
			a.Text = o.Appearance.Text
			if o.Appearance.ImageBase64 != "" {
				img, err := base64.StdEncoding.DecodeString(o.Appearance.ImageBase64)
				if err != nil {
					return opts, badRequest("appearance.imageBase64 is not base64")
				}
				if err := pdf.CheckImage(img); err != nil {
					return opts, imageError(err)
				}
				a.Image = img
			}
		}
		opts.Appearance = a
	}
	return opts, nil
}

// revocationFor is the source of B-LT revocation data (always on, whatever
// the callback policy, since B-LT needs the answers).
func (s *Server) revocationFor() pdf.RevocationSource {
	if s.revocation != nil {
		return s.revocation
	}
	return s.ltRevocation
}

// readPDFBody spools a request with a pdfBase64 member.
func (s *Server) readPDFBody(c echo.Context) (*spooledUpload, error) {
	limit := s.cfg.MaxBodyBytes/3*4 + s.cfg.MaxJSONBytes + 4096
	body := http.MaxBytesReader(c.Response(), c.Request().Body, limit)
	u, err := spool(body, "pdfBase64", s.filesDir(), int(s.cfg.MaxJSONBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return nil, apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "body larger than %d bytes (PDF limit %d bytes)", limit, s.cfg.MaxBodyBytes)
		case errors.Is(err, errRestTooLarge):
			return nil, apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "%v", err)
		case errors.Is(err, errBadBase64):
			return nil, badRequest("pdfBase64 is not standard base64")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, badRequest("malformed JSON: unexpected end")
		}
		return nil, err
	}
	if u.Size > s.cfg.MaxBodyBytes {
		u.Close()
		return nil, apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "PDF larger than %d bytes", s.cfg.MaxBodyBytes)
	}
	return u, nil
}

func (s *Server) filesDir() string { return filepath.Join(s.cfg.DataDir, "files") }

func (s *Server) signPDF(c echo.Context) error {
	u, err := s.readPDFBody(c)
	if err != nil {
		return err
	}
	defer u.Close()
	var req signPDFReq
	if err := s.decodeStrict(u.Rest, &req); err != nil {
		return err
	}
	if u.File == nil || u.Size == 0 || req.PDFBase64 != "" {
		return badRequest("pdfBase64 is required, once")
	}
	if (req.CertificateID == "") == (req.CertSerial == "") {
		return badRequest("give certSerial (token user) or certificateId with otpId and otp (server key)")
	}
	opts, err := s.signOptions(&req.pdfOptions)
	if err != nil {
		return err
	}
	return s.pdfWork(c, func() error {
		return s.idempotent(c, u.BodyHash, func() (int, any, error) {
			if req.CertificateID != "" {
				return s.signPDFServer(c, req.CertificateID, req.OTPID, req.OTP, []*spooledUpload{u}, opts, false)
			}
			return s.signPDFToken(c, &req, []*spooledUpload{u}, opts)
		})
	})
}

// signPDFServer signs now with a server-held key after the user's code,
// which must have been issued for exactly these documents (the SHA-256 of
// each as uploaded) with this certificate (protocol 1.1 §6). One document
// answers signedPdfBase64; a batch answers signedPdfsBase64 in order.
func (s *Server) signPDFServer(c echo.Context, certificateID, otpID, code string, docs []*spooledUpload, opts pdf.SignOptions, batch bool) (int, any, error) {
	if otpID == "" || code == "" {
		return 0, nil, badRequest("otpId and otp are required with certificateId")
	}
	ctx := c.Request().Context()
	rec, sg, err := s.serverSigner(c, certificateID)
	if err != nil {
		return 0, nil, err
	}
	// With an Idempotency-Key the signed files are named after it: a retry
	// that took over the reservation of a request killed after signing
	// returns those files instead of signing again (the code is spent).
	id, field := randomHex(12), "SecureSign_"+randomHex(4)
	if tok, _ := c.Get(idemTokenKey).(string); tok != "" {
		id, field = tok, "SecureSign_"+tok[:8]
	}
	if opts.FieldName == "" {
		opts.FieldName = field
	}
	names := make([]string, len(docs))
	recovered := true
	for i := range docs {
		names[i] = "remote-" + id + ".signed.pdf"
		if batch {
			names[i] = "remote-" + id + "-" + strconv.Itoa(i) + ".signed.pdf"
		}
		if ok, err := s.docs.Has(ctx, names[i]); err != nil {
			return 0, nil, docUnavailable(fmt.Errorf("%w: %w", errDocUnavailable, err))
		} else if !ok {
			recovered = false
		}
	}
	member := fileMember{Name: "signedPdfBase64", Files: names}
	if batch {
		member = fileMember{Name: "signedPdfsBase64", Files: names, Array: true}
	}
	answer := &fileAnswer{Fields: map[string]any{"success": true, "signatureField": opts.FieldName}, Members: []fileMember{member}, Temp: true}
	if recovered {
		s.metrics.outcome("remote", "recovered")
		c.Response().Header().Set("Idempotent-Replayed", "true")
		return http.StatusOK, answer, nil
	}
	op := &Consent{CertificateID: rec.ID}
	sums := make([]string, len(docs))
	for i, d := range docs {
		if sums[i], err = fileSHA256(d.File); err != nil {
			return 0, nil, err
		}
		sum, _ := hex.DecodeString(sums[i])
		op.Documents = append(op.Documents, ConsentDocument{SHA256: sum})
	}
	o, err := s.redeemOTP(c, rec.UserID, otpID, code, "sign", op)
	if err != nil {
		return 0, nil, err
	}
	var temps []string
	defer func() {
		for _, t := range temps {
			os.Remove(t)
		}
	}()
	repaired := false
	for _, d := range docs {
		out, err := os.CreateTemp(s.filesDir(), "signed-*.tmp")
		if err != nil {
			return 0, nil, err
		}
		temps = append(temps, out.Name())
		var info pdf.SignInfo
		docOpts := opts
		docOpts.Info = &info
		err = pdf.Sign(ctx, out, d.File, d.Size, sg, docOpts)
		repaired = repaired || info.Repaired
		if cerr := out.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			s.metrics.outcome("remote", "failed")
			if ke := keyError(err); ke != nil {
				return 0, nil, ke
			}
			return 0, nil, pdfError(err)
		}
	}
	// Spent only once every document is signed: a refused document leaves
	// the code usable; a concurrent request that spent it first wins.
	if err := s.spendOTP(ctx, o); err != nil {
		return 0, nil, err
	}
	// An input was rewritten once (damaged cross-reference data) before
	// the signature was appended: the portal should know.
	answer.Fields["repaired"] = repaired
	// Audit before the files appear: a crash in between leaves a logged
	// signature that was never delivered, never a delivered one unlogged.
	for i := range docs {
		s.audit(ctx, &AuditEntry{TenantID: rec.TenantID, Actor: actor(c), Action: "pdf.sign.server", CertSerial: rec.SerialHex, DocHash: sums[i], Outcome: "signed", Detail: o.ID})
	}
	for i, t := range temps {
		if err := s.docs.Save(ctx, names[i], t); err != nil {
			return 0, nil, err
		}
	}
	temps = nil
	s.metrics.outcome("remote", "signed")
	return http.StatusOK, answer, nil
}

func fileSHA256(f *os.File) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, 1<<62)); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pdfError maps errors of the pdf package on an uploaded document.
func pdfError(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var ae *apiError
	if errors.As(err, &ae) || errors.Is(err, pdf.ErrCertificateRevoked) {
		return err // toAPIError names it
	}
	if errors.Is(err, pdf.ErrImageTooLarge) {
		return imageError(err)
	}
	return unprocessable(err, "cannot sign this PDF: %v", err)
}

// signPDFToken prepares documents for a token user's registered or issued
// certificate and opens a session whose link carries their digests.
func (s *Server) signPDFToken(c echo.Context, req *signPDFReq, docs []*spooledUpload, opts pdf.SignOptions) (int, any, error) {
	ctx := c.Request().Context()
	serial, err := normalizeSerial(req.CertSerial)
	if err != nil {
		return 0, nil, err
	}
	rec, err := s.store.CertificateBySerial(ctx, who(c).TenantID, serial)
	if errors.Is(err, ErrNotFound) {
		return 0, nil, apiErr(http.StatusNotFound, "SS_CERT_NOT_FOUND", "no certificate with serial %s was issued or registered for this tenant", serial)
	}
	if err != nil {
		return 0, nil, err
	}
	if !rec.RevokedAt.IsZero() {
		return 0, nil, unprocessable(nil, "certificate %s is revoked", serial)
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return 0, nil, err
	}
	if now := s.cfg.Now(); now.After(cert.NotAfter) {
		return 0, nil, apiErr(http.StatusUnprocessableEntity, "SS_CERT_EXPIRED", "certificate %s expired", serial)
	}
	chain, err := parseDERs(rec.Chain)
	if err != nil {
		return 0, nil, err
	}
	if len(opts.Password) > 0 && (opts.Level == pdf.LevelBLT || opts.Level == pdf.LevelBLTA) {
		// Finish would have to read the encrypted document again, after
		// the request (and its password) is gone.
		return 0, nil, badRequest("a password-protected PDF is signed with a token up to level B-T; use a server-held key for B-LT and B-LTA")
	}
	rid := newRequestID()
	var parts []pdfPart
	repaired := false
	var hashes [][]byte
	var pkg []sigpkg.Document
	hashAlgo := ""
	cleanup := func() {
		for _, p := range parts {
			s.docs.Remove(context.WithoutCancel(ctx), p.File) //nolint:errcheck
		}
	}
	for i, d := range docs {
		name := rid + "-" + strconv.Itoa(i) + ".prepared.pdf"
		var info pdf.SignInfo
		opts.Info = &info
		ps, sum, err := s.prepareOne(ctx, d, name, cert, chain, opts)
		if err != nil {
			cleanup()
			return 0, nil, err
		}
		repaired = repaired || info.Repaired
		if pkg != nil || i == 0 {
			if packageFits(ps) {
				shown := packageName(req.Doc, i, len(docs))
				if i < len(req.names) && req.names[i] != "" {
					shown = req.names[i]
				}
				pkg = append(pkg, packageDoc(ps, shown, sum))
			} else {
				pkg = nil // one document too large: no package at all
			}
		}
		state, err := ps.MarshalBinary()
		if err != nil {
			cleanup()
			return 0, nil, err
		}
		parts = append(parts, pdfPart{File: name, State: state})
		hashes = append(hashes, ps.Digest)
		if hashAlgo == "" {
			hashAlgo = hashName(ps.Hash)
		} else if hashAlgo != hashName(ps.Hash) {
			cleanup()
			return 0, nil, fmt.Errorf("documents prepared with different hashes")
		}
	}
	if hashAlgo == "" {
		cleanup()
		return 0, nil, unprocessable(nil, "the certificate's key needs an unsupported digest")
	}
	sess, err := s.createSession(c, &sessionSpec{Kind: "pdf", Action: "sign", Hashes: hashes, HashAlgo: hashAlgo, CallbackURL: req.CallbackURL,
		ReturnURL: req.ReturnURL, CertSerial: serial, Doc: req.Doc, Platform: req.Platform, UserID: rec.UserID, Registered: rec,
		PDFs: parts, Package: pkg, PackageInLink: req.PackageInLink, RequestID: rid})
	if err != nil {
		cleanup()
		return 0, nil, err
	}
	ans := s.sessionAnswer(sess)
	ans.Repaired = repaired
	return http.StatusCreated, ans, nil
}

// prepareOne writes the prepared file atomically and returns its state
// and its SHA-256 (hex), hashed as it is written.
func (s *Server) prepareOne(ctx context.Context, d *spooledUpload, name string, cert *x509.Certificate, chain []*x509.Certificate, opts pdf.SignOptions) (*pdf.PreparedSignature, string, error) {
	tmp, err := os.CreateTemp(s.filesDir(), "prep-*.tmp")
	if err != nil {
		return nil, "", err
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	ps, err := pdf.Prepare(ctx, io.MultiWriter(tmp, h), d.File, d.Size, cert, chain, opts)
	if err != nil {
		tmp.Close()
		return nil, "", pdfError(err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, "", err
	}
	if err := tmp.Close(); err != nil {
		return nil, "", err
	}
	if err := s.docs.Save(ctx, name, tmp.Name()); err != nil {
		return nil, "", err
	}
	return ps, hex.EncodeToString(h.Sum(nil)), nil
}

// finishPDFs embeds the session's signatures into copies of the prepared
// files (temp file + rename), so it can run again after a crash.
func (s *Server) finishPDFs(ctx context.Context, sess *Session) ([]string, error) {
	var st sessionState
	if err := jsonUnmarshal(sess.State, &st); err != nil {
		return nil, err
	}
	if len(st.PDFs) != len(sess.Completion.Signatures) {
		return nil, fmt.Errorf("%d signatures for %d documents", len(sess.Completion.Signatures), len(st.PDFs))
	}
	lvl := pdf.LevelBB
	opts, _ := s.signOptions(&pdfOptions{Level: string(lvl)})
	// The user signed: finishing waits for a slot as long as the caller
	// does, rather than failing the session.
	release, err := s.work.acquireWait(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	var names []string
	for i, p := range st.PDFs {
		var ps pdf.PreparedSignature
		if err := ps.UnmarshalBinary(p.State); err != nil {
			return nil, err
		}
		name := sess.RequestID + "-" + strconv.Itoa(i) + ".signed.pdf"
		if ok, err := s.docs.Has(ctx, name); err != nil {
			return nil, fmt.Errorf("%w: %w", errDocUnavailable, err)
		} else if ok {
			names = append(names, name)
			continue
		}
		tmp := filepath.Join(s.filesDir(), name+"."+randomHex(4)+".tmp")
		if err := s.copyDoc(ctx, p.File, tmp); err != nil {
			return nil, err
		}
		if err := pdf.FinishFile(ctx, tmp, &ps, sess.Completion.Signatures[i], opts); err != nil {
			os.Remove(tmp)
			return nil, err
		}
		if err := s.docs.Save(ctx, name, tmp); err != nil {
			return nil, fmt.Errorf("%w: %w", errDocUnavailable, err)
		}
		names = append(names, name)
	}
	s.metrics.outcome("pdf", "finished")
	s.audit(ctx, &AuditEntry{TenantID: sess.TenantID, Actor: "callback", Action: "pdf.finish", RequestID: sess.RequestID, CertSerial: sess.CertSerial,
		DocHash: hex.EncodeToString(sess.Hashes[0]), Outcome: "signed", Detail: fmt.Sprintf("%d document(s)", len(names))})
	return names, nil
}

// copyDoc copies the stored document name to the new local file dst. A
// document this instance cannot read is errDocUnavailable.
func (s *Server) copyDoc(ctx context.Context, name, dst string) error {
	in, done, err := s.docs.Open(ctx, name)
	if err != nil {
		if errors.Is(err, errDocUnavailable) {
			return err
		}
		return fmt.Errorf("%w: %w", errDocUnavailable, err)
	}
	defer done()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(dst)
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

type batchItem struct {
	PDFBase64  string `json:"pdfBase64" validate:"omitempty,base64"`
	HashBase64 string `json:"hashBase64" validate:"omitempty,base64"`
	// Name is what the signing app shows for this PDF (protocol 1.2 §6.6);
	// the rules of doc.
	Name string `json:"name" validate:"omitempty,max=200"`
}

type signBatchReq struct {
	Items       []batchItem `json:"items" validate:"required,min=1,max=1000,dive"`
	HashAlgo    string      `json:"hashAlgo" validate:"omitempty,oneof=SHA256 SHA384 SHA512"`
	CertSerial  string      `json:"certSerial" validate:"omitempty,max=64"`
	CallbackURL string      `json:"callbackUrl" validate:"omitempty,max=1000"`
	ReturnURL   string      `json:"returnUrl" validate:"omitempty,max=1000"`
	Platform    string      `json:"platform" validate:"omitempty,max=40"`
	Doc         string      `json:"doc" validate:"omitempty,max=200"`
	// PackageInLink: as in signPDFReq, for a batch of PDFs.
	PackageInLink bool `json:"packageInLink"`
	// Server-key variant: sign now with a server-held credential after the
	// user's code for exactly these items.
	CertificateID string `json:"certificateId" validate:"omitempty,max=64"`
	OTPID         string `json:"otpId" validate:"omitempty,max=64"`
	OTP           string `json:"otp" validate:"omitempty,max=12"`
	pdfOptions
}

// signBatch opens one session for several hashes or several PDFs (one
// link, one PIN entry). The documents are spooled to disk as sign/pdf's
// is: the whole body may be as large as the PDF limit, the rest of it as
// the JSON limit.
func (s *Server) signBatch(c echo.Context) error {
	limit := s.cfg.MaxBodyBytes/3*4 + s.cfg.MaxJSONBytes + 4096
	sb, err := spoolBatch(http.MaxBytesReader(c.Response(), c.Request().Body, limit), s.filesDir(), int(s.cfg.MaxJSONBytes), max(s.cfg.MaxBatch, s.cfg.MaxDigests))
	if err != nil {
		var mbe *http.MaxBytesError
		switch {
		case errors.As(err, &mbe):
			return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "body larger than %d bytes (PDF limit %d bytes)", limit, s.cfg.MaxBodyBytes)
		case errors.Is(err, errRestTooLarge):
			return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "%v", err)
		case errors.Is(err, errBadBase64):
			return badRequest("pdfBase64 is not standard base64")
		case errors.Is(err, io.ErrUnexpectedEOF):
			return badRequest("malformed JSON: unexpected end")
		}
		return err
	}
	defer sb.Close()
	var req signBatchReq
	if err := s.decodeStrict(sb.Rest, &req); err != nil {
		return err
	}
	if len(req.Items) > s.cfg.MaxDigests {
		return badRequest("items: at most %d", s.cfg.MaxDigests)
	}
	nPDF := 0
	var total int64
	for i, it := range req.Items {
		d := sb.Docs[i]
		if it.PDFBase64 != "" {
			return badRequest("item %d: pdfBase64 must be a plain member name", i+1)
		}
		if (d == nil || d.Size == 0) == (it.HashBase64 == "") {
			return badRequest("item %d: give pdfBase64 or hashBase64", i+1)
		}
		if d != nil && d.Size > 0 {
			nPDF++
			total += d.Size
		}
		if it.Name != "" {
			if d == nil || d.Size == 0 {
				return badRequest("items[%d].name: only a PDF item has a name", i)
			}
			if strings.TrimSpace(it.Name) == "" {
				return badRequest("items[%d].name must not be blank", i)
			}
			if err := deeplink.CheckDoc(it.Name); err != nil {
				return badRequest("items[%d].name: %v", i, err)
			}
		}
	}
	if total > s.cfg.MaxBodyBytes {
		return apiErr(http.StatusRequestEntityTooLarge, CodeTooLarge, "PDFs larger than %d bytes together", s.cfg.MaxBodyBytes)
	}
	if nPDF != 0 && nPDF != len(req.Items) {
		return badRequest("a batch holds only hashes or only PDFs")
	}
	// PDFs and server-key digests are signed under one PIN entry or one
	// code, so they must fit one link; only token digests are split.
	if (nPDF > 0 || req.CertificateID != "") && len(req.Items) > s.cfg.MaxBatch {
		return badRequest("items: at most %d PDFs, or digests with a server-held key", s.cfg.MaxBatch)
	}
	if req.CertificateID != "" && req.CertSerial != "" {
		return badRequest("give certSerial (token user) or certificateId with otpId and otp (server key), not both")
	}
	run := func() error {
		return s.idempotent(c, sb.BodyHash, func() (int, any, error) {
			if nPDF == 0 {
				algo := req.HashAlgo
				if algo == "" {
					algo = "SHA256"
				}
				var hashes [][]byte
				for i, it := range req.Items {
					b, _ := base64.StdEncoding.DecodeString(it.HashBase64)
					if len(b) != hashAlgos[algo].Size() {
						return 0, nil, badRequest("item %d: not a %s digest", i+1, algo)
					}
					hashes = append(hashes, b)
				}
				if req.CertificateID != "" {
					return s.signHashServer(c, req.CertificateID, req.OTPID, req.OTP, hashes, hashAlgos[algo])
				}
				spec := &sessionSpec{Kind: "batch", Action: "sign", Hashes: hashes, HashAlgo: algo, CallbackURL: req.CallbackURL,
					ReturnURL: req.ReturnURL, Doc: req.Doc, Platform: req.Platform}
				if req.CertSerial != "" {
					if spec.CertSerial, err = normalizeSerial(req.CertSerial); err != nil {
						return 0, nil, err
					}
				}
				return s.createHashSessions(c, spec)
			}
			if req.CertSerial == "" && req.CertificateID == "" {
				return 0, nil, badRequest("certSerial (token user) or certificateId (server key) is required for a PDF batch")
			}
			opts, err := s.signOptions(&req.pdfOptions)
			if err != nil {
				return 0, nil, err
			}
			docs := make([]*spooledUpload, len(req.Items))
			for i := range req.Items {
				docs[i] = sb.Docs[i]
			}
			if req.CertificateID != "" {
				return s.signPDFServer(c, req.CertificateID, req.OTPID, req.OTP, docs, opts, true)
			}
			one := &signPDFReq{CertSerial: req.CertSerial, CallbackURL: req.CallbackURL, ReturnURL: req.ReturnURL, Platform: req.Platform, Doc: req.Doc,
				PackageInLink: req.PackageInLink}
			for _, it := range req.Items {
				one.names = append(one.names, it.Name)
			}
			return s.signPDFToken(c, one, docs, opts)
		})
	}
	if nPDF == 0 {
		return run()
	}
	return s.pdfWork(c, run)
}

// ---- verification ----

// verifyPDFReq is the body of POST /v1/verify/pdf; pdfBase64 itself is
// streamed to a file before the rest is decoded.
type verifyPDFReq struct {
	PDFBase64 string `json:"pdfBase64"`
	// ValidationTime (RFC 3339) judges the signatures as of that time
	// instead of now; the report's validationTime says which was used.
	ValidationTime string `json:"validationTime" validate:"omitempty,max=40"`
	// Password opens a PDF encrypted with a user password.
	Password string `json:"password" validate:"omitempty,max=127"`
}

func (s *Server) verifyPDF(c echo.Context) error {
	u, err := s.readPDFBody(c)
	if err != nil {
		return err
	}
	defer u.Close()
	var req verifyPDFReq
	if err := s.decodeStrict(u.Rest, &req); err != nil {
		return err
	}
	if u.File == nil || u.Size == 0 {
		return badRequest("pdfBase64 is required")
	}
	now := s.cfg.Now
	if req.ValidationTime != "" {
		at, err := time.Parse(time.RFC3339, req.ValidationTime)
		if err != nil {
			return badRequest("validationTime must be an RFC 3339 time such as 2026-01-31T12:00:00Z")
		}
		now = func() time.Time { return at }
	}
	return s.pdfWork(c, func() error {
		opts := s.pdfVerifyOptions()
		opts.Now = now
		if req.Password != "" {
			opts.Password = []byte(req.Password)
		}
		rep, err := pdf.Verify(c.Request().Context(), u.File, u.Size, opts)
		if err != nil {
			return unprocessable(err, "cannot validate this PDF: %v", err)
		}
		return c.JSON(http.StatusOK, rep)
	})
}

type verifyHashReq struct {
	HashBase64        string   `json:"hashBase64" validate:"required,base64"`
	HashAlgo          string   `json:"hashAlgo" validate:"omitempty,oneof=SHA256 SHA384 SHA512"`
	SignatureBase64   string   `json:"signatureBase64" validate:"required,base64"`
	SignAlgo          string   `json:"signAlgo" validate:"omitempty,oneof=RSA-PKCS1-v1_5 RSA-PSS ECDSA"`
	CertificateBase64 string   `json:"certificateBase64" validate:"required,base64"`
	ChainBase64       []string `json:"chainBase64" validate:"omitempty,max=10,dive,base64"`
}

func (s *Server) verifyHash(c echo.Context) error {
	var req verifyHashReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	algo := req.HashAlgo
	if algo == "" {
		algo = "SHA256"
	}
	digest, _ := base64.StdEncoding.DecodeString(req.HashBase64)
	sig, _ := base64.StdEncoding.DecodeString(req.SignatureBase64)
	der, _ := base64.StdEncoding.DecodeString(req.CertificateBase64)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return unprocessable(err, "certificateBase64 is not a certificate: %v", err)
	}
	var inter []*x509.Certificate
	for _, b := range req.ChainBase64 {
		d, _ := base64.StdEncoding.DecodeString(b)
		ic, err := x509.ParseCertificate(d)
		if err != nil {
			return unprocessable(err, "chainBase64 holds a bad certificate")
		}
		inter = append(inter, ic)
	}
	alg := signer.Algorithm(req.SignAlgo)
	if alg == "" {
		alg = signer.DefaultAlgorithm(cert.PublicKey)
	}
	out := map[string]any{"success": true, "valid": false, "signature": "ok", "messages": []string{}}
	msgs := []string{}
	if err := signer.VerifyDigest(cert.PublicKey, alg, hashAlgos[algo], digest, sig); err != nil {
		out["signature"] = "invalid"
		msgs = append(msgs, err.Error())
	}
	chainOut := s.chainReport(c.Request().Context(), cert, inter)
	for k, v := range chainOut {
		out[k] = v
	}
	if m, ok := chainOut["messages"].([]string); ok {
		msgs = append(msgs, m...)
	}
	out["messages"] = msgs
	out["valid"] = out["signature"] == "ok" && chainOut["valid"] == true
	return c.JSON(http.StatusOK, out)
}

func (s *Server) chainReport(ctx context.Context, cert *x509.Certificate, inter []*x509.Certificate) map[string]any {
	res, err := pki.VerifyChain(ctx, cert, append(inter, s.ca.ChainCerts()...), pki.VerifyOptions{
		Roots: s.roots, Revocation: s.revocation, RequireSigningKeyUsage: true, At: s.cfg.Now(), Responders: s.services.responders})
	out := map[string]any{"subject": cert.Subject.String(), "issuer": cert.Issuer.String(), "serialNumber": cert.SerialNumber.Text(16),
		"notBefore": cert.NotBefore.UTC(), "notAfter": cert.NotAfter.UTC()}
	if err != nil {
		out["valid"] = false
		out["chain"] = chainCode(err)
		out["messages"] = []string{err.Error()}
		return out
	}
	out["valid"] = true
	out["chain"] = "trusted"
	var subjects []string
	for _, x := range res.Chain {
		subjects = append(subjects, x.Subject.String())
	}
	out["chainSubjects"] = subjects
	rev := "good"
	for _, r := range res.Revocation {
		if r == nil || r.State == pki.RevocationState("unknown") {
			rev = "unknown"
		}
	}
	out["revocation"] = rev
	out["messages"] = []string{}
	return out
}

func chainCode(err error) string {
	switch {
	case errors.Is(err, pki.ErrRevoked):
		return "revoked"
	case errors.Is(err, pki.ErrOutsideValidity):
		return "expired"
	case errors.Is(err, pki.ErrKeyUsage):
		return "key-usage"
	case errors.Is(err, pki.ErrRevocationUnknown):
		return "revocation-unknown"
	}
	return "untrusted"
}

type validateCertReq struct {
	CertificatePem    string   `json:"certificatePem" validate:"required_without=CertificateBase64,max=65536"`
	CertificateBase64 string   `json:"certificateBase64" validate:"omitempty,base64,max=65536"`
	ChainPem          string   `json:"chainPem" validate:"omitempty,max=262144"`
	ChainBase64       []string `json:"chainBase64" validate:"omitempty,max=10,dive,base64"`
}

func (s *Server) validateCertificate(c echo.Context) error {
	var req validateCertReq
	if _, err := s.bind(c, &req); err != nil {
		return err
	}
	var certs []*x509.Certificate
	if req.CertificatePem != "" {
		cs, err := pki.ParseCertificates([]byte(req.CertificatePem))
		if err != nil {
			return unprocessable(err, "certificatePem: %v", err)
		}
		certs = cs
	} else {
		der, _ := base64.StdEncoding.DecodeString(req.CertificateBase64)
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return unprocessable(err, "certificateBase64: %v", err)
		}
		certs = []*x509.Certificate{cert}
	}
	inter := certs[1:]
	if req.ChainPem != "" {
		cs, err := pki.ParseCertificates([]byte(req.ChainPem))
		if err != nil {
			return unprocessable(err, "chainPem: %v", err)
		}
		inter = append(inter, cs...)
	}
	for _, b := range req.ChainBase64 {
		d, _ := base64.StdEncoding.DecodeString(b)
		ic, err := x509.ParseCertificate(d)
		if err != nil {
			return unprocessable(err, "chainBase64 holds a bad certificate")
		}
		inter = append(inter, ic)
	}
	out := s.chainReport(c.Request().Context(), certs[0], inter)
	out["success"] = true
	return c.JSON(http.StatusOK, out)
}
