package signer

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// KnownModule is a PKCS#11 module that tokens common among Indian DSC
// holders install, with the places its installer puts it.
type KnownModule struct {
	Name   string   // token family, e.g. "ePass2003 / HYP2003"
	Vendor string   // e.g. "Feitian (eMudhra)"
	Paths  []string // candidate paths for one OS, most likely first
}

// knownModules lists module paths per GOOS. The vendors' installers change
// paths between versions, so a user can always give a path instead.
var knownModules = map[string][]KnownModule{
	"linux": {
		{"ePass2003 / HYP2003", "Feitian (eMudhra, HyperSecu)", []string{
			"/usr/lib/libcastle.so.1.0.0", "/usr/lib/libcastle_v2.so.1.0.0", "/usr/local/lib/libcastle.so.1.0.0",
			"/usr/lib/x86_64-linux-gnu/libcastle.so.1.0.0", "/usr/lib/HyperSecu/libcastle_v2.so.1.0.0"}},
		{"ProxKey", "WatchData", []string{
			"/usr/lib/WatchData/ProxKey/lib/libwdpkcs_SignatureP11.so", "/usr/lib/libwdpkcs_SignatureP11.so",
			"/opt/WatchData/ProxKey/lib/libwdpkcs_SignatureP11.so"}},
		{"SafeNet eToken", "Thales (SafeNet Authentication Client)", []string{
			"/usr/lib/libeTPkcs11.so", "/usr/lib64/libeTPkcs11.so", "/usr/lib/libeToken.so", "/usr/lib64/libeToken.so"}},
		{"mToken CryptoID", "Longmai", []string{
			"/usr/lib/libcryptoid_pkcs11.so", "/opt/CryptoIDA/lib/libcryptoid_pkcs11.so", "/usr/lib/mToken/libmtoken_pkcs11.so"}},
		{"OpenSC (smart cards and many tokens)", "OpenSC project", []string{
			"/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/aarch64-linux-gnu/opensc-pkcs11.so",
			"/usr/lib64/opensc-pkcs11.so", "/usr/lib/opensc-pkcs11.so", "/usr/local/lib/opensc-pkcs11.so"}},
		{"SoftHSM 2 (software token, for tests)", "OpenDNSSEC", []string{
			"/usr/lib/softhsm/libsofthsm2.so", "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
			"/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so", "/usr/lib64/pkcs11/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"}},
	},
	"windows": {
		{"ePass2003 / HYP2003", "Feitian (eMudhra, HyperSecu)", []string{
			`C:\Windows\System32\eps2003csp11.dll`, `C:\Windows\System32\eps2003csp11v2.dll`, `C:\Windows\System32\hypersecurecsp11.dll`}},
		{"ProxKey", "WatchData", []string{
			`C:\Windows\System32\SignatureP11.dll`, `C:\Windows\System32\wdpkcs_SignatureP11.dll`}},
		{"SafeNet eToken", "Thales (SafeNet Authentication Client)", []string{
			`C:\Windows\System32\eTPKCS11.dll`, `C:\Windows\System32\eToken.dll`}},
		{"mToken CryptoID", "Longmai", []string{
			`C:\Windows\System32\CryptoIDA_pkcs11.dll`, `C:\Windows\System32\mtoken_pkcs11.dll`}},
		{"OpenSC (smart cards and many tokens)", "OpenSC project", []string{
			`C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll`, `C:\Windows\System32\opensc-pkcs11.dll`}},
		{"SoftHSM 2 (software token, for tests)", "OpenDNSSEC", []string{
			`C:\SoftHSM2\lib\softhsm2-x64.dll`, `C:\SoftHSM2\lib\softhsm2.dll`}},
	},
	"darwin": {
		{"ePass2003 / HYP2003", "Feitian (eMudhra, HyperSecu)", []string{
			"/usr/local/lib/libcastle.1.0.0.dylib", "/usr/local/lib/libcastle.dylib", "/usr/local/lib/libcastle_v2.1.0.0.dylib"}},
		{"ProxKey", "WatchData", []string{
			"/usr/local/lib/libwdpkcs_SignatureP11.dylib", "/Library/WatchData/ProxKey/lib/libwdpkcs_SignatureP11.dylib"}},
		{"SafeNet eToken", "Thales (SafeNet Authentication Client)", []string{
			"/usr/local/lib/libeTPkcs11.dylib", "/Library/Frameworks/eToken.framework/Versions/Current/libeToken.dylib"}},
		{"mToken CryptoID", "Longmai", []string{
			"/usr/local/lib/libcryptoid_pkcs11.dylib", "/Library/mToken/CryptoIDA/lib/libcryptoid_pkcs11.dylib"}},
		{"OpenSC (smart cards and many tokens)", "OpenSC project", []string{
			"/Library/OpenSC/lib/opensc-pkcs11.so", "/opt/homebrew/lib/opensc-pkcs11.so", "/usr/local/lib/opensc-pkcs11.so"}},
		{"SoftHSM 2 (software token, for tests)", "OpenDNSSEC", []string{
			"/opt/homebrew/lib/softhsm/libsofthsm2.so", "/usr/local/lib/softhsm/libsofthsm2.so"}},
	},
}

// KnownModules returns the well-known PKCS#11 modules and their candidate
// paths on goos ("linux", "windows", "darwin"; others get none). The
// Desktop Software tries them so users need no configuration; a path given
// by the user always wins.
func KnownModules(goos string) []KnownModule {
	src := knownModules[goos]
	out := make([]KnownModule, len(src))
	for i, m := range src {
		out[i] = KnownModule{Name: m.Name, Vendor: m.Vendor, Paths: append([]string(nil), m.Paths...)}
	}
	return out
}

// FindModules returns the paths of KnownModules(runtime.GOOS) that exist on
// this machine, each module file once even when reachable by several paths.
func FindModules() []string {
	return findModules(runtime.GOOS, os.Getenv("SystemRoot"))
}

func findModules(goos, systemRoot string) []string {
	var out []string
	seen := map[string]bool{}
	for _, m := range KnownModules(goos) {
		for _, p := range m.Paths {
			if goos == "windows" && systemRoot != "" && strings.HasPrefix(p, `C:\Windows\`) {
				p = systemRoot + p[len(`C:\Windows`):]
			}
			fi, err := os.Stat(p)
			if err != nil || fi.IsDir() {
				continue
			}
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				real = p
			}
			if seen[real] {
				continue
			}
			seen[real] = true
			out = append(out, p)
		}
	}
	return out
}
