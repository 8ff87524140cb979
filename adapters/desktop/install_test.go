package desktop

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestInstallUninstallLinux(t *testing.T) {
	home := t.TempDir()
	var ran [][]string
	in := &Installer{
		Exe: "/opt/Secure Sign/bin/securesign", Home: home, GOOS: "linux",
		LookPath: func(name string) (string, error) { return "/usr/bin/" + name, nil },
		Run: func(_ context.Context, name string, args ...string) error {
			ran = append(ran, append([]string{name}, args...))
			if name == "xdg-mime" { // what xdg-mime does, so uninstall has something to undo
				p := filepath.Join(home, ".config", "mimeapps.list")
				os.MkdirAll(filepath.Dir(p), 0o755)
				return os.WriteFile(p, []byte("[Default Applications]\ntext/html=firefox.desktop\nx-scheme-handler/securesign=securesign.desktop\n"), 0o644)
			}
			return nil
		},
	}
	ctx := context.Background()
	if _, err := in.Install(ctx); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(home, ".local/share/applications/securesign.desktop"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"MimeType=x-scheme-handler/securesign;\n",
		`Exec="/opt/Secure Sign/bin/securesign" desktop open -- %u` + "\n",
		"Type=Application\n",
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("desktop entry lacks %q:\n%s", want, b)
		}
	}
	wantRan := [][]string{
		{"xdg-mime", "default", "securesign.desktop", "x-scheme-handler/securesign"},
		{"update-desktop-database", filepath.Join(home, ".local/share/applications")},
	}
	if d := cmp.Diff(wantRan, ran); d != "" {
		t.Errorf("commands (-want +got):\n%s", d)
	}

	if _, err := in.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, ".local/share/applications/securesign.desktop")); !os.IsNotExist(err) {
		t.Errorf("desktop entry still there: %v", err)
	}
	list, _ := os.ReadFile(filepath.Join(home, ".config", "mimeapps.list"))
	if d := cmp.Diff("[Default Applications]\ntext/html=firefox.desktop\n", string(list)); d != "" {
		t.Errorf("mimeapps.list (-want +got):\n%s", d)
	}
	// Uninstalling twice is fine.
	if _, err := in.Uninstall(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestInstallWithoutXDGMime(t *testing.T) {
	home := t.TempDir()
	in := &Installer{Exe: "/usr/bin/securesign", Home: home, GOOS: "linux",
		LookPath: func(string) (string, error) { return "", os.ErrNotExist },
		Run: func(context.Context, string, ...string) error {
			t.Error("ran a command that is not installed")
			return nil
		}}
	steps, err := in.Install(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 2 || !strings.Contains(steps[1], "xdg-mime not found") {
		t.Errorf("steps = %q", steps)
	}
}

func TestInstallRefusesRelativeExe(t *testing.T) {
	in := &Installer{Exe: "securesign", Home: t.TempDir(), GOOS: "linux"}
	if _, err := in.Install(context.Background()); err == nil {
		t.Fatal("relative binary path accepted")
	}
}

func TestInstallMacOS(t *testing.T) {
	in := &Installer{Exe: "/Applications/SecureSign.app/Contents/MacOS/securesign", Home: t.TempDir(), GOOS: "darwin"}
	if _, err := in.Install(context.Background()); err == nil {
		t.Fatal("macOS install claimed success")
	}
	p, err := InfoPlist("/x/securesign-launcher", "1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<key>CFBundleURLTypes</key>", "<string>securesign</string>", "<string>securesign-launcher</string>", "<string>1.2.3</string>"} {
		if !strings.Contains(p, want) {
			t.Errorf("Info.plist lacks %q", want)
		}
	}
}

func TestDesktopQuote(t *testing.T) {
	for in, want := range map[string]string{
		"/usr/bin/securesign":  "/usr/bin/securesign",
		"/opt/a b/securesign":  `"/opt/a b/securesign"`,
		`/opt/$x"y/securesign`: `"/opt/\$x\"y/securesign"`,
	} {
		if got := desktopQuote(in); got != want {
			t.Errorf("desktopQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
