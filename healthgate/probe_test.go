package healthgate_test

import (
	"bufio"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
)

// The gate's probe is a small HTTP/1.1 client of its own (probe.go says why):
// the answers a sidecar may give, written raw, and what the gate makes of them.
func TestTheProbeReadsWhatAnHTTPServerMayAnswer(t *testing.T) {
	for _, tt := range []struct {
		name   string
		answer string
		ready  bool
		want   string // in the gate's error when not ready
	}{
		{name: "200 with a body", ready: true,
			answer: "HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{\"status\":\"ok\"}\n"},
		{name: "an interim 100 before the 200", ready: true,
			answer: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"},
		{name: "a chunked 503", want: `503 Service Unavailable: {"status":"degraded"}`,
			answer: "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"sta\r\n13\r\ntus\":\"degraded\"}\n\r\n0\r\n\r\n"},
		{name: "a body without length, up to the close", want: "500 Internal Server Error: boom",
			answer: "HTTP/1.0 500 Internal Server Error\r\n\r\nboom\n"},
		{name: "a redirect is not followed", want: "301 Moved Permanently: ",
			answer: "HTTP/1.1 301 Moved Permanently\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n"},
		{name: "the body excerpt is cut at 200 bytes", want: "503 Service Unavailable: " + strings.Repeat("x", 200) + `; `,
			answer: "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 300\r\n\r\n" + strings.Repeat("x", 300)},
		{name: "not HTTP", want: `malformed HTTP response "SSH-2.0-OpenSSH_9.2"`,
			answer: "SSH-2.0-OpenSSH_9.2\r\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			addr := rawServer(t, tt.answer)
			g := newGate(t, "http://"+addr, 100*time.Millisecond, steps(time.Millisecond))
			how, err := g.Wait(t.Context(), nil)
			if tt.ready {
				if err != nil || how != "probe" {
					t.Fatalf("Wait = %q, %v; want probe, nil", how, err)
				}
				return
			}
			wantErr(t, err, healthgate.ErrNotReady)
			if !strings.Contains(err.Error()+"; ", tt.want) {
				t.Fatalf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

// rawServer answers every connection with answer, once it has read the
// request's head, checking it is the GET the gate should send, then closes it.
func rawServer(t *testing.T, answer string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil || req.Method != "GET" || req.URL.Path != "/v1/health" || req.Host != ln.Addr().String() || !req.Close {
					t.Errorf("the probe sent %+v, %v; want GET /v1/health, Host %s, Connection: close", req, err, ln.Addr())
					return
				}
				conn.Write([]byte(answer))
			}()
		}
	}()
	return ln.Addr().String()
}
