// Package desktop is the Desktop Software: it handles securesign:// links
// opened by the operating system, shows the request on a local page, signs
// with the user's PKCS#11 token and delivers ss_result to the portal.
//
// # Entry point and single instance
//
// The OS runs "securesign desktop open LINK" on every click (Windows and
// Linux start a new process each time). The first process becomes the
// instance: it listens on a per-user Unix socket ([SocketPath]: directory
// 0700, socket 0600, in $XDG_RUNTIME_DIR or the user cache directory) and
// serves the page. Later processes [Forward] their link to it and exit. On
// Windows the same AF_UNIX socket works (Windows 10 1803 and later) under
// %LocalAppData%, whose ACL is the user's; a named pipe
// \\.\pipe\securesign-<user SID> is the alternative for older systems.
//
// [Installer] registers the scheme for the current user: on Linux a
// desktop entry (~/.local/share/applications/securesign.desktop,
// MimeType=x-scheme-handler/securesign) and "xdg-mime default"; on Windows
// HKCU\Software\Classes\securesign; on macOS the scheme belongs to an app
// bundle, whose Info.plist [InfoPlist] renders (see macos/README.md).
//
// # The local page
//
// [UI] serves one request at a time on http://127.0.0.1:PORT (random port)
// under an unguessable path (/r/<32 random bytes, base64url>/), opened in
// the default browser. It refuses any Host header but 127.0.0.1:PORT (DNS
// rebinding), any POST whose Origin is not its own or whose Sec-Fetch-Site
// is not same-origin, and any form without the page's CSRF token; it sends
// no CORS headers and a strict CSP (no scripts at all, styles by nonce,
// form-action 'self', frame-ancestors 'none'). The page shows the portal
// origin, whether the link's signature verified, the document name, a
// fingerprint of each digest, the certificates of every token found (the
// signer package's known modules plus configured ones) and a PIN field.
// The PIN is read into a byte slice, passed to the token and zeroed; it is
// never logged, stored or retried. A wrong PIN keeps the request open (the
// portal is not told) and the page says what the token reports about the
// tries left, warning on the final one.
//
// # Policy
//
// [Policy] (desktop.json in the user config directory, plus flags) lists
// the allowed portal origins and trusted link keys. A link from another
// origin is refused and nothing is sent to it. A signed link must verify
// with a trusted key or with the key set its origin publishes; an unsigned
// (legacy) link is accepted, shown as unverified, only from an allowed
// origin and only unless RequireSignedLinks. Expired links are refused.
// Failures after the origin check are reported to the portal with their
// SS_* code (callback.CodeOf); the user's cancel is SS_SIGN_CANCELLED.
//
// [App.Headless] is the same flow without a page, for automation
// ("securesign desktop open LINK --yes --pin-env VAR --cert-serial HEX").
package desktop
