// Package internal holds helpers shared by several SecureSign packages. Its
// subpackages are not part of the public API.
package internal
