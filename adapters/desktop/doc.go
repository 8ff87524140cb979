// Package desktop is the Desktop Software: it handles securesign:// links
// opened by the operating system, shows the request on a local page, signs
// with the user's PKCS#11 token and delivers ss_result to the portal.
package desktop
