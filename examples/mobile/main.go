// Command mobile is the reference Mobile App client: it takes a
// securesign:// link (argument, text file or QR code image), verifies it,
// signs with a PKCS#12 file or a PKCS#11 token and delivers the result the
// mobile way, GET callbackUrl?ss_result=…
//
//	go run ./examples/mobile --p12 user.p12 --password-env P12_PASSWORD \
//	    --allow-origin http://127.0.0.1:8090 --qr qr.png
//
// See README.md for what a phone adds.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/signal"
	"strings"

	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
	"github.com/securesign/securesign/examples/mobile/mobileapp"
	"github.com/securesign/securesign/signer"
)

type multi []string

func (m *multi) String() string     { return strings.Join(*m, ",") }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("mobile", flag.ContinueOnError)
	var (
		qr, linkFile, p12, passEnv, module, tokenLabel, certSerial, pinEnv, saveDir string
		yes, requireSigned, requirePkg                                              bool
		origins, jwks, gateways                                                     multi
	)
	fs.StringVar(&qr, "qr", "", "read the link from this QR code image (PNG/JPEG)")
	fs.StringVar(&linkFile, "link-file", "", "read the link from this text file")
	fs.StringVar(&p12, "p12", "", "sign with the key in this PKCS#12 file")
	fs.StringVar(&passEnv, "password-env", "", "environment variable with the PKCS#12 password")
	fs.StringVar(&module, "module", "", "sign with a PKCS#11 token through this module (an OTG token)")
	fs.StringVar(&tokenLabel, "token-label", "", "PKCS#11 token label")
	fs.StringVar(&certSerial, "cert-serial", "", "PKCS#11: hex serial of the certificate")
	fs.StringVar(&pinEnv, "pin-env", "", "PKCS#11: environment variable with the PIN")
	fs.Var(&origins, "allow-origin", "portal origin the app serves (repeatable)")
	fs.Var(&jwks, "trust-jwks", "JWKS file of trusted link keys (repeatable)")
	fs.Var(&gateways, "package-origin", "also fetch signing packages from this origin, besides the link's own: the signing gateway the portals use (repeatable)")
	fs.StringVar(&saveDir, "save-dir", "", "where checked documents are saved for you to open (default: the temporary directory)")
	fs.BoolVar(&requireSigned, "require-signed", false, "refuse unsigned links")
	fs.BoolVar(&requirePkg, "require-package", false, "refuse sign links that name no signing package: sign only documents checked first")
	fs.BoolVar(&yes, "yes", false, "do not ask before signing")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	link, err := readLink(fs.Args(), qr, linkFile)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mobile:", err)
		return 2
	}
	s, closeKey, err := openKey(ctx, p12, passEnv, module, tokenLabel, certSerial, pinEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "mobile:", err)
		return 1
	}
	defer closeKey()
	app := &mobileapp.App{AllowedOrigins: origins, RequireSigned: requireSigned, RequirePackage: requirePkg, Signer: s, SaveDir: saveDir}
	if len(gateways) > 0 {
		for i, g := range gateways {
			o, err := sigpkg.ParseOrigin(g)
			if err != nil {
				fmt.Fprintln(os.Stderr, "mobile: --package-origin:", err)
				return 2
			}
			gateways[i] = o
		}
		app.Packages = &sigpkg.Fetcher{PackageOrigins: gateways}
	}
	if len(jwks) > 0 {
		app.TrustedKeys = &deeplink.KeySet{}
		for _, f := range jwks {
			b, err := os.ReadFile(f)
			var ks deeplink.KeySet
			if err == nil {
				err = json.Unmarshal(b, &ks)
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "mobile:", f+":", err)
				return 1
			}
			app.TrustedKeys.Keys = append(app.TrustedKeys.Keys, ks.Keys...)
		}
	}
	if !yes {
		in := bufio.NewReader(os.Stdin)
		app.Confirm = func(r *mobileapp.Request) bool {
			v := "UNVERIFIED (unsigned link)"
			if r.Verified {
				v = "verified"
			}
			from := r.Origin
			if r.Org != "" { // only on a verified link
				from = r.Org + " — via " + r.Origin
			}
			if r.Warning != "" {
				fmt.Fprintf(os.Stderr, "WARNING: %s\n", r.Warning)
			}
			fmt.Fprintf(os.Stderr, "%s request from %s (%s)\n  document: %s\n  digests: %d, expires %s\n  certificate: %s\n",
				r.Action, from, v, r.Doc, r.Digests, r.Expires.Format("15:04:05"), s.Certificate().Subject.CommonName)
			for i, d := range r.Documents {
				fmt.Fprintf(os.Stderr, "  checked document %d: %s\n    open it: %s\n", i+1, d.Name, d.Path)
			}
			fmt.Fprint(os.Stderr, "Sign? [y/N] ")
			ans, _ := in.ReadString('\n')
			return strings.EqualFold(strings.TrimSpace(ans), "y")
		}
	}
	out, err := app.Handle(ctx, link)
	if out != nil {
		for _, d := range out.Documents {
			fmt.Printf("%s\t%s\n", d.Path, d.Name) // stdout: the saved documents, one a line
		}
	}
	if out != nil && out.Result != nil {
		fmt.Fprintf(os.Stderr, "result: success=%v error=%s; portal answered %d at %s\n", out.Result.Success, out.Result.Error, out.Status, out.FinalURL)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mobile:", err)
		return 1
	}
	return 0
}

func readLink(args []string, qr, linkFile string) (string, error) {
	switch {
	case qr != "":
		return mobileapp.LinkFromQR(qr)
	case linkFile != "":
		b, err := os.ReadFile(linkFile)
		return strings.TrimSpace(string(b)), err
	case len(args) == 1:
		return args[0], nil
	}
	return "", errors.New("give the link as the argument, or --qr IMAGE, or --link-file FILE")
}

// openKey opens the user's key: a PKCS#12 file (the stand-in for a phone
// keystore) or a PKCS#11 token (an OTG USB token).
func openKey(ctx context.Context, p12, passEnv, module, label, serial, pinEnv string) (signer.Signer, func(), error) {
	switch {
	case p12 != "":
		b, err := os.ReadFile(p12)
		if err != nil {
			return nil, nil, err
		}
		s, err := signer.LoadPKCS12(b, os.Getenv(passEnv))
		return s, func() {}, err
	case module != "":
		pin := []byte(os.Getenv(pinEnv))
		defer clear(pin)
		if len(pin) == 0 {
			return nil, nil, errors.New("--pin-env names an empty or unset variable")
		}
		m, err := signer.OpenModule(ctx, module)
		if err != nil {
			return nil, nil, err
		}
		var ks signer.KeySelector
		if serial != "" {
			var n *big.Int
			if n, err = signer.ParseSerial(serial); err != nil {
				m.Close()
				return nil, nil, err
			}
			ks.CertSerial = n
		}
		s, err := m.Signer(ctx, signer.TokenSelector{Label: label}, ks, pin)
		if err != nil {
			m.Close()
			return nil, nil, err
		}
		return s, func() {
			if c, ok := s.(interface{ Close() error }); ok {
				c.Close()
			}
			m.Close()
		}, nil
	}
	return nil, nil, errors.New("no key: pass --p12 FILE or --module PATH")
}
