package lg

import (
	"bufio"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/securesign/securesign/signer"
)

// Outbox reads one-time codes from a dev gateway's
// <data>/dev-otp-outbox.jsonl, incrementally (the file only grows), or,
// with no Path, through the gateway's dev route GET /v1/dev/otp/{otpId}
// (which any of several gateways on one database answers).
type Outbox struct {
	Path   string
	Client *Client // with no Path
	mu     sync.Mutex
	off    int64
	codes  map[string]string
}

// NewRouteOutbox returns a reader of codes through the dev route of c.
func NewRouteOutbox(c *Client) *Outbox { return &Outbox{Client: c, codes: map[string]string{}} }

// NewOutbox returns a reader of the outbox in the gateway data directory dir.
func NewOutbox(dir string) *Outbox {
	return &Outbox{Path: filepath.Join(dir, "dev-otp-outbox.jsonl"), codes: map[string]string{}}
}

// Code returns the code of otpID, reading new lines until it appears or
// ctx/the 5 s wait ends.
func (o *Outbox) Code(ctx context.Context, otpID string) (string, error) {
	if o.Path == "" {
		res, err := o.Client.Do(ctx, http.MethodGet, "/v1/dev/otp/"+otpID, nil, true)
		if err != nil {
			return "", err
		}
		if res.Status != http.StatusOK || res.Str("code") == "" {
			return "", fmt.Errorf("lg: GET /v1/dev/otp/%s: %d", otpID, res.Status)
		}
		return res.Str("code"), nil
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.mu.Lock()
		code, ok := o.codes[otpID]
		if !ok {
			if err := o.readLocked(); err != nil {
				o.mu.Unlock()
				return "", err
			}
			code, ok = o.codes[otpID]
		}
		if ok {
			delete(o.codes, otpID) // single use: keep the map small
		}
		o.mu.Unlock()
		if ok {
			return code, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("lg: OTP %s not in %s", otpID, o.Path)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// Codes returns every code the outbox has held so far (for secret scans).
func (o *Outbox) Codes() ([]string, error) {
	f, err := os.Open(o.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]string
		if json.Unmarshal(sc.Bytes(), &m) == nil && m["code"] != "" {
			out = append(out, m["code"])
		}
	}
	return out, sc.Err()
}

func (o *Outbox) readLocked() error {
	f, err := os.Open(o.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.Seek(o.off, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReader(f)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return nil // a partial last line is read again next time
		}
		o.off += int64(len(line))
		var m map[string]string
		if json.Unmarshal(line, &m) == nil && m["otpId"] != "" {
			o.codes[m["otpId"]] = m["code"]
		}
	}
}

// CreateUser onboards a user and returns its id.
func CreateUser(ctx context.Context, c *Client, externalID string) (string, error) {
	res, err := c.Must(ctx, http.StatusCreated, http.MethodPost, "/v1/users", map[string]any{
		"externalId": externalID, "name": "Load Test " + externalID, "email": "load@example.in",
		"state": "Karnataka", "postalCode": "560001", "country": "IN",
	})
	if err != nil {
		return "", err
	}
	return res.Str("userId"), nil
}

// OTP asks for a one-time code for userID and reads it from the outbox.
func OTP(ctx context.Context, c *Client, ob *Outbox, userID, purpose string) (id, code string, err error) {
	res, err := c.Must(ctx, http.StatusCreated, http.MethodPost, "/v1/users/"+userID+"/otp", map[string]any{"purpose": purpose})
	if err != nil {
		return "", "", err
	}
	id = res.Str("otpId")
	code, err = ob.Code(ctx, id)
	return id, code, err
}

// SignOTP asks for a sign code that approves certificateID signing
// exactly these PDFs (their bytes as they will be uploaded) or, with no
// PDFs, these SHA-256 digests (standard base64), and reads it from the
// outbox (protocol 1.1 §6).
func SignOTP(ctx context.Context, c *Client, ob *Outbox, userID, certificateID string, pdfs [][]byte, hashes []string) (id, code string, err error) {
	req := map[string]any{"purpose": "sign", "certificateId": certificateID}
	if len(pdfs) > 0 {
		var docs []map[string]string
		for i, p := range pdfs {
			sum := sha256.Sum256(p)
			docs = append(docs, map[string]string{"sha256": hex.EncodeToString(sum[:]), "name": fmt.Sprintf("document %d", i+1)})
		}
		req["documents"] = docs
	} else {
		req["hashes"], req["hashAlgo"] = hashes, "SHA256"
	}
	res, err := c.Must(ctx, http.StatusCreated, http.MethodPost, "/v1/users/"+userID+"/otp", req)
	if err != nil {
		return "", "", err
	}
	id = res.Str("otpId")
	code, err = ob.Code(ctx, id)
	return id, code, err
}

// Identity is what a signing app holds: a key and the certificate the
// gateway issued for it.
type Identity struct {
	Signer        signer.Signer
	UserID        string
	CertificateID string
	SerialHex     string
}

// CSRPEM makes a PEM certificate request for key.
func CSRPEM(key crypto.Signer) (string, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "ignored"}}, key)
	if err != nil {
		return "", err
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})), nil
}

// ParsePEMCerts parses every CERTIFICATE block of a PEM text.
func ParsePEMCerts(text string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(text)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return out, nil
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// IssueCSR onboards a user (externalID), proves it with an issue OTP from
// the outbox and has the gateway's CA certify key from a CSR: the key never
// leaves this process, and the gateway trusts the certificate.
func IssueCSR(ctx context.Context, c *Client, ob *Outbox, externalID string, key crypto.Signer) (*Identity, error) {
	uid, err := CreateUser(ctx, c, externalID)
	if err != nil {
		return nil, err
	}
	oid, code, err := OTP(ctx, c, ob, uid, "issue")
	if err != nil {
		return nil, err
	}
	csr, err := CSRPEM(key)
	if err != nil {
		return nil, err
	}
	res, err := c.Must(ctx, http.StatusCreated, http.MethodPost, "/v1/certificates/issue",
		map[string]any{"userId": uid, "otpId": oid, "otp": code, "csrPem": csr})
	if err != nil {
		return nil, err
	}
	certs, err := ParsePEMCerts(res.Str("certificatePem"))
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("lg: issued certificate: %v (%d certificates)", err, len(certs))
	}
	chain, err := ParsePEMCerts(res.Str("chainPem"))
	if err != nil {
		return nil, fmt.Errorf("lg: issued chain: %w", err)
	}
	s, err := signer.NewSoftware(key, certs[0], chain)
	if err != nil {
		return nil, err
	}
	return &Identity{Signer: s, UserID: uid, CertificateID: res.Str("certificateId"), SerialHex: res.Str("serialNumber")}, nil
}

// Credential is a certificate with a server-held key (remote signing, CSC).
type Credential struct {
	UserID        string
	CertificateID string
	SerialHex     string
	Certificate   *x509.Certificate
}

// IssueServerKey onboards a user and has the gateway generate a key of
// keyAlgo ("RSA-2048", "ECDSA-P256", …) and certify it.
func IssueServerKey(ctx context.Context, c *Client, ob *Outbox, externalID, keyAlgo string) (*Credential, error) {
	uid, err := CreateUser(ctx, c, externalID)
	if err != nil {
		return nil, err
	}
	oid, code, err := OTP(ctx, c, ob, uid, "issue")
	if err != nil {
		return nil, err
	}
	res, err := c.Must(ctx, http.StatusCreated, http.MethodPost, "/v1/certificates/issue",
		map[string]any{"userId": uid, "otpId": oid, "otp": code, "keyAlgo": keyAlgo})
	if err != nil {
		return nil, err
	}
	certs, err := ParsePEMCerts(res.Str("certificatePem"))
	if err != nil || len(certs) != 1 {
		return nil, fmt.Errorf("lg: issued certificate: %v", err)
	}
	return &Credential{UserID: uid, CertificateID: res.Str("certificateId"), SerialHex: res.Str("serialNumber"), Certificate: certs[0]}, nil
}
