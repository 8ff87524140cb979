// Command desktop shows the Desktop Software's flow end to end in one
// program: a minimal portal (link signing key, JWKS, callback verifier)
// issues a securesign://sign link for a file's SHA-256, the Desktop
// Software (adapters/desktop, embedded as a library) checks it, shows the
// request page in the browser, signs with the user's key and POSTs
// ss_result back, and the portal prints what it verified.
//
//	go run ./examples/desktop --module /usr/lib/softhsm/libsofthsm2.so --trust root.pem FILE
//	go run ./examples/desktop --p12 user.p12 --cert user.pem --trust root.pem FILE
//
// --headless --pin-env VAR signs without a page, as "securesign desktop open
// --yes" does.
package main

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"time"

	"github.com/securesign/securesign/adapters/desktop"
	"github.com/securesign/securesign/callback"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/signer"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "desktop example:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer, getenv func(string) string) error {
	fs := flag.NewFlagSet("desktop", flag.ContinueOnError)
	var module, p12, certFile, trust, pinEnv string
	var headless bool
	fs.StringVar(&module, "module", "", "PKCS#11 module of the token")
	fs.StringVar(&p12, "p12", "", "PKCS#12 file instead of a token (its password is the PIN)")
	fs.StringVar(&certFile, "cert", "", "with --p12: the certificate PEM, listed before the password is known")
	fs.StringVar(&trust, "trust", "", "PEM trust anchor of the user's certificate")
	fs.BoolVar(&headless, "headless", false, "sign without the page")
	fs.StringVar(&pinEnv, "pin-env", "", "with --headless: environment variable holding the PIN")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 || trust == "" || (module == "") == (p12 == "") {
		fs.Usage()
		return errors.New("need FILE, --trust and one of --module or --p12")
	}
	data, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	digest := sha256.Sum256(data)
	roots := x509.NewCertPool()
	if b, err := os.ReadFile(trust); err != nil || !roots.AppendCertsFromPEM(b) {
		return fmt.Errorf("--trust %s: no PEM certificate (%v)", trust, err)
	}

	// The portal side: a link-signing key, its JWKS and the callback.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	origin := "http://" + ln.Addr().String()
	key, err := deeplink.NewSigningKey("demo-1", rand.Reader)
	if err != nil {
		return err
	}
	store := callback.NewMemoryStore()
	verifier := &callback.Verifier{Store: store, Roots: roots}
	outcomes := make(chan *callback.Outcome, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/securesign-keys.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, mustJSON(deeplink.KeySet{Keys: []deeplink.PublicKey{key.Public()}}))
	})
	mux.HandleFunc("POST /callback", func(w http.ResponseWriter, r *http.Request) {
		out, err := verifier.Verify(r.Context(), r.PostFormValue("ss_result"))
		if err != nil {
			http.Error(w, "retry", http.StatusServiceUnavailable)
			return
		}
		if out.Kind == callback.Rejected {
			http.Error(w, out.Detail, http.StatusUnprocessableEntity)
		}
		select {
		case outcomes <- out:
		default:
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	defer srv.Close()

	req := &deeplink.Request{Action: deeplink.ActionSign, RequestID: fmt.Sprintf("demo-%d", time.Now().UnixNano()),
		Hashes: [][]byte{digest[:]}, HashAlgo: crypto.SHA256, CallbackURL: origin + "/callback", Origin: origin,
		Expires: time.Now().Add(10 * time.Minute), Doc: filepath.Base(fs.Arg(0))}
	link, err := deeplink.Build(req, key)
	if err != nil {
		return err
	}
	if err := store.Add(&callback.Pending{RequestID: req.RequestID, Action: req.Action, Hashes: req.Hashes,
		HashAlgo: req.HashAlgo, Origin: origin, ExpiresAt: req.Expires}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "portal %s issued %s\n", origin, link)

	// The Desktop Software side, embedded.
	var ks desktop.Keystore = &desktop.PKCS11Keystore{Modules: []string{module}}
	if p12 != "" {
		ks, err = newP12Keystore(p12, certFile)
		if err != nil {
			return err
		}
	}
	app := &desktop.App{Policy: desktop.Policy{AllowedOrigins: []string{origin}}, Keystore: ks}
	if headless {
		if _, err := app.Headless(ctx, link, desktop.HeadlessOptions{PIN: []byte(getenv(pinEnv))}); err != nil {
			return err
		}
	} else {
		ui, err := app.NewUI()
		if err != nil {
			return err
		}
		uctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go ui.Serve(uctx)
		page, err := ui.Open(ctx, link)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "the request page is open in your browser (%s…)\n", page[:len(origin)])
	}
	select {
	case out := <-outcomes:
		if !out.Success() {
			return fmt.Errorf("portal: %s %s: %s", out.Kind, out.Code, out.Detail)
		}
		c := out.Completion.Certificate
		fmt.Fprintf(stdout, "portal verified the signature of %s (serial %s) over SHA-256 %x\n",
			c.Subject.CommonName, signer.FormatSerial(c.SerialNumber), digest[:8])
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// p12Keystore is a Keystore over a PKCS#12 file, to show how a front end
// plugs another key source into the Desktop Software.
type p12Keystore struct {
	data []byte
	cert *x509.Certificate
}

func newP12Keystore(path, certPath string) (*p12Keystore, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("--cert: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, errors.New("--cert: no PEM block")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, err
	}
	return &p12Keystore{data: data, cert: c}, nil
}

func (k *p12Keystore) Certificates(context.Context) ([]desktop.Cert, []error) {
	return []desktop.Cert{{ID: "p12", Certificate: k.cert, Token: "PKCS#12 file"}}, nil
}

func (k *p12Keystore) Open(_ context.Context, _ desktop.Cert, pin []byte) (signer.Signer, error) {
	return signer.LoadPKCS12(k.data, string(pin))
}
