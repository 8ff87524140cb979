// Command portal is an example relying-party portal built directly on the
// SecureSign packages (no gateway): upload a PDF, register the user's DSC
// certificate with a securesign://register link, sign with a
// securesign://sign link (button and QR code), watch the status live,
// download the signed PDF and its validation report.
//
//	go run ./examples/portal --demo /tmp/ss-demo
//
// See README.md for the desktop and mobile sides.
package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/securesign/securesign/deeplink"
)

type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	var (
		listen, origin, linkKey, demo string
		trust                         multi
	)
	flag.StringVar(&listen, "listen", "127.0.0.1:8090", "address to serve on")
	flag.StringVar(&origin, "origin", "", "public origin of the portal (default http://LISTEN)")
	flag.Var(&trust, "trust", "PEM file of trust anchors for users' certificates (repeatable)")
	flag.StringVar(&linkKey, "link-key", "", "PEM Ed25519 link-signing key (default: a fresh one per run)")
	flag.StringVar(&demo, "demo", "", "write a demo CA and user key/certificate (PKCS#12, password \"test\") to this directory and trust the CA")
	flag.Parse()
	if err := run(listen, origin, linkKey, demo, trust); err != nil {
		fmt.Fprintln(os.Stderr, "portal:", err)
		os.Exit(1)
	}
}

func run(listen, origin, linkKeyPath, demo string, trust []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if origin == "" {
		origin = "http://" + listen
	}
	roots := x509.NewCertPool()
	if demo != "" {
		rootPEM, err := writeDemo(demo)
		if err != nil {
			return err
		}
		trust = append(trust, rootPEM)
	}
	for _, f := range trust {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if !roots.AppendCertsFromPEM(b) {
			return fmt.Errorf("%s: no PEM certificate", f)
		}
	}
	if len(trust) == 0 {
		return errors.New("no trust anchors: pass --trust CA.pem (or --demo DIR)")
	}
	var key *deeplink.SigningKey
	var err error
	if linkKeyPath != "" {
		b, rerr := os.ReadFile(linkKeyPath)
		if rerr != nil {
			return rerr
		}
		key, err = deeplink.ParseSigningKeyPEM("portal-1", b)
	} else {
		key, err = deeplink.NewSigningKey("portal-"+time.Now().UTC().Format("20060102150405"), rand.Reader)
	}
	if err != nil {
		return err
	}
	p := NewPortal(origin, key, roots)
	p.Log = log
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
	}()
	fmt.Fprintf(os.Stderr, "portal on %s\n", origin)
	fmt.Fprintf(os.Stderr, "desktop side: securesign desktop open LINK --allow-origin %s   (or add it to desktop.json)\n", origin)
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// pemCert encodes one certificate.
func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
