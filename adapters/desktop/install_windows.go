//go:build windows

package desktop

import (
	"fmt"

	"golang.org/x/sys/windows/registry"
)

const classesKey = `Software\Classes\` + Scheme

// installWindows writes HKCU\Software\Classes\securesign, the per-user URL
// protocol registration: no administrator rights needed.
func (c *Installer) installWindows() ([]string, error) {
	k, _, err := registry.CreateKey(registry.CURRENT_USER, classesKey, registry.SET_VALUE)
	if err != nil {
		return nil, fmt.Errorf("desktop: creating HKCU\\%s: %w", classesKey, err)
	}
	defer k.Close()
	if err := k.SetStringValue("", "URL:SecureSign Protocol"); err != nil {
		return nil, fmt.Errorf("desktop: %w", err)
	}
	if err := k.SetStringValue("URL Protocol", ""); err != nil {
		return nil, fmt.Errorf("desktop: %w", err)
	}
	cmd, _, err := registry.CreateKey(registry.CURRENT_USER, classesKey+`\shell\open\command`, registry.SET_VALUE)
	if err != nil {
		return nil, fmt.Errorf("desktop: %w", err)
	}
	defer cmd.Close()
	if err := cmd.SetStringValue("", `"`+c.Exe+`" desktop open -- "%1"`); err != nil {
		return nil, fmt.Errorf("desktop: %w", err)
	}
	return []string{`wrote HKCU\` + classesKey}, nil
}

func (c *Installer) uninstallWindows() ([]string, error) {
	// Delete children first: DeleteKey does not recurse.
	for _, k := range []string{`\shell\open\command`, `\shell\open`, `\shell`, ``} {
		if err := registry.DeleteKey(registry.CURRENT_USER, classesKey+k); err != nil && err != registry.ErrNotExist {
			return nil, fmt.Errorf("desktop: deleting HKCU\\%s%s: %w", classesKey, k, err)
		}
	}
	return []string{`removed HKCU\` + classesKey}, nil
}
