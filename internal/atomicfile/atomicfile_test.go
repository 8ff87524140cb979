package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestWrite(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		old     string // content before; "" = no file
		write   func(*os.File) error
		wantErr error
		want    string // content after; "" = no file
	}{
		{"new file", "", func(f *os.File) error { _, err := f.WriteString("new"); return err }, nil, "new"},
		{"replaces", "old", func(f *os.File) error { _, err := f.WriteString("new"); return err }, nil, "new"},
		{"failure keeps the old file", "old", func(f *os.File) error { f.WriteString("half"); return boom }, boom, "old"},
		{"failure leaves no file", "", func(f *os.File) error { return boom }, boom, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "out")
			if tc.old != "" {
				if err := os.WriteFile(path, []byte(tc.old), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(path, 0o640, tc.write); !errors.Is(err, tc.wantErr) {
				t.Fatalf("Write: %v, want %v", err, tc.wantErr)
			}
			got, err := os.ReadFile(path)
			if tc.want == "" {
				if !os.IsNotExist(err) {
					t.Errorf("file exists (%q, %v), want none", got, err)
				}
			} else if diff := cmp.Diff(tc.want, string(got)); diff != "" {
				t.Errorf("content (-want +got):\n%s", diff)
			}
			entries, _ := os.ReadDir(dir)
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			var wantNames []string
			if tc.want != "" {
				wantNames = []string{"out"}
			}
			if diff := cmp.Diff(wantNames, names); diff != "" {
				t.Errorf("directory (-want +got):\n%s", diff)
			}
		})
	}
}

func TestWriteBytesMode(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := WriteBytes(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", fi.Mode().Perm())
	}
}
