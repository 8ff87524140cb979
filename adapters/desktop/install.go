package desktop

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"text/template"

	"github.com/securesign/securesign/internal/atomicfile"
)

// Scheme is the URL scheme the Desktop Software handles.
const Scheme = "securesign"

// DesktopFileName is the name of the Linux desktop entry.
const DesktopFileName = "securesign.desktop"

// ErrUnsupportedOS is returned by [Installer] where scheme registration
// cannot be done by a command (macOS: the scheme belongs to an app bundle).
var ErrUnsupportedOS = errors.New("desktop: scheme registration is not automatic on this OS")

//go:embed macos/Info.plist.tmpl
var infoPlistTmpl string

// Installer registers the securesign:// scheme for the current user.
// Every field has a default; tests set Home and GOOS.
type Installer struct {
	// Exe is the absolute path of the securesign binary; default os.Executable.
	Exe string
	// Home is the user's home directory; default os.UserHomeDir.
	Home string
	// GOOS selects the mechanism; default runtime.GOOS.
	GOOS string
	// Run runs a helper command (xdg-mime, update-desktop-database); it is
	// skipped when the command is not installed. Default exec.CommandContext.
	Run func(ctx context.Context, name string, args ...string) error
	// LookPath finds helper commands; default exec.LookPath.
	LookPath func(string) (string, error)
}

func (in *Installer) defaults() (*Installer, error) {
	c := *in
	if c.GOOS == "" {
		c.GOOS = runtime.GOOS
	}
	if c.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("desktop: locating the securesign binary: %w", err)
		}
		if exe, err = filepath.EvalSymlinks(exe); err != nil {
			return nil, fmt.Errorf("desktop: locating the securesign binary: %w", err)
		}
		c.Exe = exe
	}
	if !filepath.IsAbs(c.Exe) {
		return nil, fmt.Errorf("desktop: binary path %q is not absolute", c.Exe)
	}
	if c.Home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("desktop: no home directory: %w", err)
		}
		c.Home = h
	}
	if c.LookPath == nil {
		c.LookPath = exec.LookPath
	}
	if c.Run == nil {
		home := c.Home
		c.Run = func(ctx context.Context, name string, args ...string) error {
			cmd := exec.CommandContext(ctx, name, args...)
			// The helpers must act on the same home we write to.
			cmd.Env = append(os.Environ(), "HOME="+home,
				"XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
				"XDG_CONFIG_HOME="+filepath.Join(home, ".config"))
			out, err := cmd.CombinedOutput()
			if err != nil {
				return fmt.Errorf("%s: %w: %s", name, err, bytes.TrimSpace(out))
			}
			return nil
		}
	}
	return &c, nil
}

// DesktopFilePath returns where Install writes the Linux desktop entry.
func (in *Installer) DesktopFilePath() string {
	return filepath.Join(in.Home, ".local", "share", "applications", DesktopFileName)
}

// Install registers the scheme: on Linux a desktop entry with
// MimeType=x-scheme-handler/securesign plus "xdg-mime default"; on Windows
// HKCU\Software\Classes\securesign; on macOS it returns [ErrUnsupportedOS]
// (see [InfoPlist]). It returns what it did, one line per step.
func (in *Installer) Install(ctx context.Context) ([]string, error) {
	c, err := in.defaults()
	if err != nil {
		return nil, err
	}
	switch c.GOOS {
	case "windows":
		return c.installWindows()
	case "darwin":
		return nil, fmt.Errorf("%w: build an app bundle with the Info.plist from \"securesign desktop install --macos-plist\"", ErrUnsupportedOS)
	default:
		return c.installLinux(ctx)
	}
}

// Uninstall undoes Install.
func (in *Installer) Uninstall(ctx context.Context) ([]string, error) {
	c, err := in.defaults()
	if err != nil {
		return nil, err
	}
	switch c.GOOS {
	case "windows":
		return c.uninstallWindows()
	case "darwin":
		return nil, fmt.Errorf("%w: remove the SecureSign app bundle", ErrUnsupportedOS)
	default:
		return c.uninstallLinux(ctx)
	}
}

// desktopEntry is the Linux desktop entry. Exec quotes the binary path per
// the Desktop Entry Specification; %u is the link.
func desktopEntry(exe string) string {
	return "[Desktop Entry]\n" +
		"Type=Application\n" +
		"Name=SecureSign\n" +
		"Comment=Sign documents with your DSC token\n" +
		"Exec=" + desktopQuote(exe) + " desktop open -- %u\n" +
		"Terminal=false\n" +
		"NoDisplay=true\n" +
		"MimeType=x-scheme-handler/" + Scheme + ";\n" +
		"Categories=Utility;Security;\n"
}

func desktopQuote(s string) string {
	if !strings.ContainsAny(s, " \t\n\"'\\><~|&;$*?#()`") {
		return s
	}
	r := strings.NewReplacer(`\`, `\\\\`, `"`, `\"`, "`", "\\`", `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}

func (c *Installer) installLinux(ctx context.Context) ([]string, error) {
	path := c.DesktopFilePath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("desktop: %w", err)
	}
	if err := writeFileAtomic(path, []byte(desktopEntry(c.Exe)), 0o644); err != nil {
		return nil, err
	}
	done := []string{"wrote " + path}
	if _, err := c.LookPath("xdg-mime"); err == nil {
		if err := c.Run(ctx, "xdg-mime", "default", DesktopFileName, "x-scheme-handler/"+Scheme); err != nil {
			return done, fmt.Errorf("desktop: registering the scheme: %w", err)
		}
		done = append(done, "xdg-mime default "+DesktopFileName+" x-scheme-handler/"+Scheme)
	} else {
		done = append(done, "xdg-mime not found: the desktop environment picks the entry up on its next scan")
	}
	if _, err := c.LookPath("update-desktop-database"); err == nil {
		// Best effort: only speeds up discovery.
		if c.Run(ctx, "update-desktop-database", filepath.Dir(path)) == nil {
			done = append(done, "update-desktop-database "+filepath.Dir(path))
		}
	}
	return done, nil
}

func (c *Installer) uninstallLinux(ctx context.Context) ([]string, error) {
	path := c.DesktopFilePath()
	var done []string
	switch err := os.Remove(path); {
	case err == nil:
		done = append(done, "removed "+path)
	case errors.Is(err, os.ErrNotExist):
		done = append(done, path+" was not installed")
	default:
		return nil, fmt.Errorf("desktop: %w", err)
	}
	// xdg-mime keeps the default in ~/.config/mimeapps.list; drop our line.
	list := filepath.Join(c.Home, ".config", "mimeapps.list")
	if b, err := os.ReadFile(list); err == nil {
		var out []string
		changed := false
		for _, l := range strings.SplitAfter(string(b), "\n") {
			if strings.HasPrefix(l, "x-scheme-handler/"+Scheme+"=") {
				changed = true
				continue
			}
			out = append(out, l)
		}
		if changed {
			if err := writeFileAtomic(list, []byte(strings.Join(out, "")), 0o644); err != nil {
				return done, err
			}
			done = append(done, "removed the x-scheme-handler/"+Scheme+" default from "+list)
		}
	}
	if _, err := c.LookPath("update-desktop-database"); err == nil {
		_ = c.Run(ctx, "update-desktop-database", filepath.Dir(path))
	}
	return done, nil
}

// InfoPlist renders the macOS Info.plist for an app bundle whose executable
// is exe (a small launcher that runs "securesign desktop open -- URL"). macOS
// delivers links to a running app as Apple Events, not argv, so the bundle's
// launcher must hand them over; see adapters/desktop/macos/README.md.
func InfoPlist(exe, version string) (string, error) {
	t, err := template.New("plist").Parse(infoPlistTmpl)
	if err != nil {
		return "", err
	}
	var b bytes.Buffer
	err = t.Execute(&b, map[string]string{"Executable": filepath.Base(exe), "Version": version, "Scheme": Scheme})
	return b.String(), err
}

// writeFileAtomic writes data to path whole or not at all.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := atomicfile.WriteBytes(path, data, perm); err != nil {
		return fmt.Errorf("desktop: writing %s: %w", path, err)
	}
	return nil
}
