//go:build !windows

package desktop

import "fmt"

func (c *Installer) installWindows() ([]string, error) {
	return nil, fmt.Errorf("%w: the Windows registry is only reachable from a Windows build", ErrUnsupportedOS)
}

func (c *Installer) uninstallWindows() ([]string, error) {
	return nil, fmt.Errorf("%w: the Windows registry is only reachable from a Windows build", ErrUnsupportedOS)
}
