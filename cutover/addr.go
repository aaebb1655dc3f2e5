package cutover

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/loopback"
)

const (
	acceptedURL    = "an http:// or https:// URL with a host, such as http://localhost:9100 or https://memory.example.com"
	acceptedListen = "host:port such as :9100, 127.0.0.1:9100, [::1]:9100 or localhost:9100"
)

// parsePluginURL checks MEMORY_PLUGIN_URL; nil when it is unset.
func parsePluginURL(raw string) (*url.URL, error) {
	if raw == "" {
		return nil, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, &envvar.Error{Name: varURL, Value: raw, Accepted: acceptedURL}
	}
	return u, nil
}

// A hostPort is a parsed listen address.
type hostPort struct {
	host string // as written, without brackets; empty for all interfaces
	port string // 1..65535, decimal
	raw  string // the address as the sidecar gets it
}

// parseListenAddr checks MEMORY_PLUGIN_LISTEN_ADDR; nil when it is unset. It
// takes what net.Listen takes, but insists on a numeric, non-zero port: the
// gate must know where to probe, which a service name or port 0 would hide.
func parseListenAddr(raw string) (*hostPort, error) {
	if raw == "" {
		return nil, nil
	}
	bad := func(reason string) error {
		return &envvar.Error{Name: varListenAddr, Value: raw, Reason: reason, Accepted: acceptedListen}
	}
	host, port, err := net.SplitHostPort(raw)
	if err != nil {
		return nil, bad("")
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return nil, bad("the port must be a number from 1 to 65535")
	}
	if host != "" && net.ParseIP(host) == nil && !validHostname(host) {
		return nil, bad("the host must be an IP address or a host name")
	}
	return &hostPort{host: host, port: port, raw: raw}, nil
}

func validHostname(h string) bool {
	for _, r := range h {
		if !(r == '-' || r == '.' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return false
		}
	}
	return true
}

// unspecified reports whether the listener takes connections on every interface.
func (a *hostPort) unspecified() bool {
	if a.host == "" {
		return true
	}
	ip := net.ParseIP(a.host)
	return ip != nil && ip.IsUnspecified()
}

// probeTarget is the host:port where a client on this host reaches the
// listener: loopback stands in for "every interface" (::1 for [::], which
// works whether or not the socket is IPv6-only).
func (a *hostPort) probeTarget() string {
	host := a.host
	if a.unspecified() {
		host = "127.0.0.1"
		if ip := net.ParseIP(a.host); ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, a.port)
}

// urlPort is the port a URL connects to, explicit or the scheme's default.
func urlPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return p
	}
	if u.Scheme == "https" {
		return "443"
	}
	return "80"
}

// urlListenAddr is where the sidecar listens so that a loopback URL reaches
// it: the URL's own address, or 127.0.0.1 for localhost.
func urlListenAddr(u *url.URL) *hostPort {
	host := u.Hostname()
	if net.ParseIP(host) == nil {
		host = "127.0.0.1"
	}
	a := &hostPort{host: host, port: urlPort(u)}
	a.raw = net.JoinHostPort(a.host, a.port)
	return a
}

// agree checks that a listener on listen serves the loopback URL u, the one
// the main services will use: same port, and a host that reaches it.
func agree(listen *hostPort, rawURL string, u *url.URL) error {
	const accepted = "the same port and host in both, or MEMORY_PLUGIN_LISTEN_ADDR unset to listen where MEMORY_PLUGIN_URL points"
	if p := urlPort(u); p != listen.port {
		return &envvar.Error{Name: varListenAddr, Value: listen.raw, Accepted: accepted,
			Reason: "port " + listen.port + " disagrees with " + varURL + "=" + rawURL + " (port " + p + "): the main services would not reach the sidecar"}
	}
	if !serves(listen, u.Hostname()) {
		return &envvar.Error{Name: varListenAddr, Value: listen.raw, Accepted: accepted,
			Reason: "a listener on " + listen.raw + " is not reachable at " + varURL + "=" + rawURL}
	}
	return nil
}

// serves reports whether a listener on listen accepts connections made to
// urlHost, a loopback host. localhost may resolve to either loopback family,
// so it is taken to agree with any loopback address.
func serves(listen *hostPort, urlHost string) bool {
	if listen.unspecified() {
		return true
	}
	if strings.EqualFold(listen.host, "localhost") || strings.EqualFold(urlHost, "localhost") {
		return loopback.IsHost(listen.host)
	}
	a, b := net.ParseIP(listen.host), net.ParseIP(urlHost)
	return a != nil && b != nil && a.Equal(b)
}
