//go:build !signonly

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"time"

	"github.com/securesign/securesign/adapters/desktop"
	"github.com/securesign/securesign/deeplink"
	"github.com/securesign/securesign/deeplink/sigpkg"
)

func runDesktop(ctx context.Context, e *env, args []string) int {
	return subcommand(e, "desktop", args, map[string]func([]string) int{
		"open":      func(a []string) int { return runDesktopOpen(ctx, e, a) },
		"install":   func(a []string) int { return runDesktopInstall(ctx, e, a, true) },
		"uninstall": func(a []string) int { return runDesktopInstall(ctx, e, a, false) },
	}, map[string]string{
		"open":      "handle a securesign:// link (what the OS runs on a click)",
		"install":   "register the securesign:// scheme for this user",
		"uninstall": "remove the scheme registration",
	})
}

func runDesktopOpen(ctx context.Context, e *env, args []string) int {
	fs := newFlagSet(e, "desktop open", "desktop open [flags] [--] LINK\n\n"+
		"Flags come before the link; nothing may follow it (the OS registration runs\n"+
		"\"desktop open -- LINK\", so a crafted link cannot smuggle in flags).\n"+
		"Shows the request on a local page in the browser, or with --yes signs without one.\n"+
		"A second process forwards its link to the running one and exits.\n"+
		"The page opens in the system's default browser, or with --browser CMD (or $SECURESIGN_BROWSER):\n"+
		"CMD is run with the page URL as its only argument.")
	var (
		yes, jsonOut, noForward, requireSigned, noFetch  bool
		requirePkg                                       bool
		pinEnv, certSerial, certSHA, tokenLabel          string
		configPath, browser                              string
		modules, origins, jwks, unsignedFrom, pkgOrigins multiFlag
		linger                                           time.Duration
	)
	fs.BoolVar(&yes, "yes", false, "headless: sign without a page (needs --pin-env)")
	fs.StringVar(&pinEnv, "pin-env", "", "headless: environment variable holding the token PIN")
	fs.StringVar(&certSerial, "cert-serial", "", "headless: the certificate to sign with, by its serial in hex (as 'securesign token list' prints it)")
	fs.StringVar(&certSHA, "cert-sha256", "", "headless: the certificate to sign with, by its SHA-256 thumbprint in hex (as 'securesign token list' prints it)")
	fs.Var(&modules, "module", "PKCS#11 module path (repeatable; the known modules of this OS are tried too)")
	fs.StringVar(&tokenLabel, "token-label", "", "only use the token with this label")
	fs.Var(&origins, "allow-origin", "allow this portal origin (repeatable; adds to the config file)")
	fs.Var(&pkgOrigins, "package-origin", "also fetch signing packages from this origin, besides the link's own: the signing gateway the portals use (repeatable; adds to the config file's packageOrigins)")
	fs.BoolVar(&requirePkg, "require-package", false, "refuse sign links that name no signing package: sign only documents shown first (the config file's requirePackage)")
	fs.Var(&jwks, "trust-jwks", "trust the link keys in this JWKS file (repeatable)")
	fs.StringVar(&configPath, "config", "", "policy file (default <user config dir>/securesign/desktop.json)")
	fs.BoolVar(&requireSigned, "require-signed", false, "refuse unsigned (legacy) links even from --allow-unsigned-from origins")
	fs.Var(&unsignedFrom, "allow-unsigned-from", "accept unsigned (legacy) links from this allowed origin, shown as unverified (repeatable; adds to the config file's unsignedLinkOrigins)")
	fs.BoolVar(&noFetch, "no-fetch-keys", false, "never fetch a portal's /.well-known/securesign-keys.json")
	fs.BoolVar(&noForward, "no-forward", false, "do not hand the link to a running instance")
	fs.DurationVar(&linger, "linger", 2*time.Minute, "how long to wait for the next link after the last one")
	fs.BoolVar(&jsonOut, "json", false, "headless: print the delivered result as JSON")
	fs.StringVar(&browser, "browser", "", "program that opens the request page, given its URL (default: $SECURESIGN_BROWSER, else the system's default browser)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprintf(e.stderr, "securesign desktop open: nothing may follow the link (got %q): flags go before it\n", fs.Arg(1))
		return 2
	}
	link := fs.Arg(0)
	var certSum []byte
	if certSHA != "" {
		var err error
		if certSerial != "" {
			err = errors.New("give only one of --cert-serial, --cert-sha256")
		} else if certSum, err = decodeThumbprint(certSHA); err != nil {
			err = fmt.Errorf("--cert-sha256: %w", err)
		}
		if err != nil {
			fmt.Fprintf(e.stderr, "securesign desktop open: %v\n", err)
			return 2
		}
	}

	app, err := desktopApp(e, configPath, origins, pkgOrigins, jwks, modules, tokenLabel, requireSigned, noFetch)
	if err == nil {
		for _, o := range unsignedFrom {
			if _, err = desktop.CanonicalOrigin(o); err != nil {
				break
			}
			app.Policy.UnsignedLinkOrigins = append(app.Policy.UnsignedLinkOrigins, o)
		}
		if requirePkg {
			app.Policy.RequirePackage = true
		}
	}
	if err != nil {
		return fail(e, "desktop open", err)
	}
	if browser == "" {
		browser = e.getenv("SECURESIGN_BROWSER")
	}
	if browser != "" {
		app.OpenBrowser = func(ctx context.Context, url string) error {
			// Not tied to ctx: the browser outlives the request.
			cmd := exec.Command(browser, url)
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("--browser: %w", err)
			}
			go cmd.Wait()
			return nil
		}
	}
	if yes {
		pin, err := secretFromEnv(e, pinEnv)
		if err != nil {
			return fail(e, "desktop open", fmt.Errorf("--yes needs the PIN: %w", err))
		}
		res, err := app.Headless(ctx, link, desktop.HeadlessOptions{CertSerial: certSerial, CertSHA256: certSum, PIN: []byte(pin)})
		if jsonOut && res != nil {
			_ = printJSON(e.stdout, res)
		}
		if err != nil {
			return fail(e, "desktop open", err)
		}
		if !jsonOut {
			fmt.Fprintf(e.stdout, "signed %s and delivered the result\n", res.RequestID)
		}
		return 0
	}

	sock, err := desktop.SocketPath(e.getenv)
	if err != nil {
		return fail(e, "desktop open", err)
	}
	var inst *desktop.Instance
	if !noForward {
		switch err := desktop.Forward(ctx, sock, link); {
		case err == nil:
			fmt.Fprintln(e.stderr, "securesign desktop: handed the link to the running instance")
			return 0
		case errors.Is(err, desktop.ErrBusy):
			return fail(e, "desktop open", err)
		case !errors.Is(err, desktop.ErrNoInstance):
			return fail(e, "desktop open", err)
		}
		inst, err = desktop.Listen(ctx, sock)
		if err != nil {
			// Lost a race with another process starting: forward to it.
			if ferr := desktop.Forward(ctx, sock, link); ferr == nil {
				return 0
			}
			return fail(e, "desktop open", err)
		}
		defer inst.Close()
	}
	err = app.Run(ctx, link, desktop.RunOptions{Instance: inst, Linger: linger, Ready: func(ui *desktop.UI) {
		fmt.Fprintf(e.stderr, "securesign desktop: page server on http://%s\n", ui.Addr())
	}})
	if err != nil {
		return fail(e, "desktop open", err)
	}
	return 0
}

// desktopApp builds the App from the policy file and flags.
func desktopApp(e *env, configPath string, origins, pkgOrigins, jwks, modules multiFlag, tokenLabel string, requireSigned, noFetch bool) (*desktop.App, error) {
	if configPath == "" {
		p, err := desktop.DefaultConfigPath()
		if err != nil {
			return nil, err
		}
		configPath = p
	}
	pol, err := desktop.LoadPolicy(configPath)
	if err != nil {
		return nil, err
	}
	pol.AllowedOrigins = append(pol.AllowedOrigins, origins...)
	for _, o := range pol.AllowedOrigins {
		if _, err := desktop.CanonicalOrigin(o); err != nil {
			return nil, err
		}
	}
	for _, o := range pkgOrigins {
		if _, err := sigpkg.ParseOrigin(o); err != nil {
			return nil, fmt.Errorf("--package-origin: %w", err)
		}
	}
	pol.PackageOrigins = append(pol.PackageOrigins, pkgOrigins...)
	pol.TrustedKeyFiles = append(pol.TrustedKeyFiles, jwks...)
	pol.Modules = append(pol.Modules, modules...)
	if requireSigned {
		pol.RequireSignedLinks = true
	}
	if noFetch {
		f := false
		pol.FetchKeys = &f
	}
	keys, err := loadKeySets(pol.TrustedKeyFiles)
	if err != nil {
		return nil, err
	}
	return &desktop.App{
		Policy:      *pol,
		TrustedKeys: keys,
		Keystore:    &desktop.PKCS11Keystore{Modules: desktop.DefaultModules(pol.Modules), TokenLabel: tokenLabel},
		Log:         slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Fetcher:     &deeplink.Fetcher{},
	}, nil
}

// loadKeySets merges JWKS files into one key set (nil when there are none).
func loadKeySets(paths []string) (*deeplink.KeySet, error) {
	if len(paths) == 0 {
		return nil, nil
	}
	all := &deeplink.KeySet{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, fmt.Errorf("trusted keys: %w", err)
		}
		var ks deeplink.KeySet
		if err := json.Unmarshal(b, &ks); err != nil {
			return nil, fmt.Errorf("trusted keys %s: %w", p, err)
		}
		all.Keys = append(all.Keys, ks.Keys...)
	}
	return all, nil
}

func runDesktopInstall(ctx context.Context, e *env, args []string, install bool) int {
	name := "desktop uninstall"
	if install {
		name = "desktop install"
	}
	fs := newFlagSet(e, name, name+" [flags]\n\nLinux: ~/.local/share/applications/securesign.desktop + xdg-mime; Windows: HKCU\\Software\\Classes\\securesign; macOS: see --macos-plist.")
	var plist, jsonOut bool
	var exe string
	if install {
		fs.BoolVar(&plist, "macos-plist", false, "print the macOS app bundle Info.plist (CFBundleURLTypes) and exit")
		fs.StringVar(&exe, "exe", "", "binary the OS runs (default: this one)")
	}
	fs.BoolVar(&jsonOut, "json", false, "print the steps as JSON")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return 2
	}
	if plist {
		v := version
		if v == "" {
			v = "0.0.0"
		}
		out, err := desktop.InfoPlist("securesign-launcher", v)
		if err != nil {
			return fail(e, name, err)
		}
		fmt.Fprint(e.stdout, out)
		return 0
	}
	in := &desktop.Installer{Exe: exe, Home: e.getenv("HOME")}
	var (
		steps []string
		err   error
	)
	if install {
		steps, err = in.Install(ctx)
	} else {
		steps, err = in.Uninstall(ctx)
	}
	if jsonOut {
		_ = printJSON(e.stdout, map[string]any{"steps": steps, "ok": err == nil})
	} else {
		for _, s := range steps {
			fmt.Fprintln(e.stdout, s)
		}
	}
	if err != nil {
		return fail(e, name, err)
	}
	return 0
}
