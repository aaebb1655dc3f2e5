// Package loopback holds the one definition of a host that means "this
// container". The cutover rules (a plugin URL that is not loopback is an
// external plugin; the bundled sidecar listens on loopback) and the memory
// plugin (it refuses to listen elsewhere without a token) must agree on it,
// and neither should import the other for it.
package loopback

import (
	"net"
	"strings"
)

// IsHost reports whether host is localhost or a loopback address
// (127.0.0.0/8, ::1).
func IsHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
