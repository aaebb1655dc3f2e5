package healthgate

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The probe is a GET over a fresh TCP connection that reads the status line,
// the headers and, when the answer is not 200, the start of the body. It is
// what the gate asked of net/http's client (no keep-alive, no proxy, no
// redirect followed, headers bounded to 64 KiB), written out because the gate
// runs in PID 1: net/http brings crypto/tls, x509 and HTTP/2 with it, which
// the init would initialise at every start and keep resident, for a loopback
// HTTP/1.1 request. Errors read as the client's did (Get "<url>": ...).

const (
	maxHeaderBytes = 64 << 10
	excerptBytes   = 200 // of a non-200 answer's body, for the failure line
)

// target is where a probe goes, from the health URL.
type target struct {
	url  string // for errors
	host string // host:port to dial
	req  []byte // the whole request
}

func newTarget(health string) (target, error) {
	u, err := url.Parse(health)
	if err != nil {
		return target{}, err
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "80")
	}
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUser-Agent: tenant-init\r\nConnection: close\r\n\r\n"
	return target{url: health, host: host, req: []byte(req)}, nil
}

// get sends the request and returns the answer's status ("200 OK") and, unless
// the status is 200, up to excerptBytes of its body. It gives up when ctx ends,
// in the middle of a read too.
func (t target) get(ctx context.Context) (code int, status string, excerpt []byte, err error) {
	defer func() {
		if err != nil {
			err = &url.Error{Op: "Get", URL: t.url, Err: err}
		}
	}()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", t.host)
	if err != nil {
		return 0, "", nil, ctxErr(ctx, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A probe cut short (the sidecar died, the gate's end) must not wait out
	// a read: a deadline in the past wakes it at once. Set after the deadline
	// above, which would otherwise undo it when ctx has already ended.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(t.req); err != nil {
		return 0, "", nil, ctxErr(ctx, err)
	}
	r := bufio.NewReader(conn)
	head := &io.LimitedReader{R: r, N: maxHeaderBytes}
	for {
		line, err := readLine(head)
		if err != nil {
			return 0, "", nil, ctxErr(ctx, err)
		}
		proto, status, _ := strings.Cut(line, " ")
		status = strings.TrimLeft(status, " ")
		digits, _, _ := strings.Cut(status, " ")
		code, err = strconv.Atoi(digits)
		if !strings.HasPrefix(proto, "HTTP/") || len(digits) != 3 || err != nil || code < 100 {
			return 0, "", nil, fmt.Errorf("malformed HTTP response %q", line)
		}
		length, chunked, err := readHeaders(head)
		if err != nil {
			return 0, "", nil, ctxErr(ctx, err)
		}
		if code >= 100 && code < 200 && code != 101 {
			continue // an interim answer; the real one follows
		}
		if code == 200 {
			return code, status, nil, nil
		}
		var body io.Reader = r
		switch {
		case chunked:
			body = &chunkedReader{r: r}
		case length >= 0:
			body = io.LimitReader(r, length)
		}
		excerpt, _ = io.ReadAll(io.LimitReader(body, excerptBytes))
		return code, status, excerpt, nil
	}
}

// ctxErr says why a dial, read or write failed: the context's end, when it
// ended.
func ctxErr(ctx context.Context, err error) error {
	if ended(ctx) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return context.DeadlineExceeded
	}
	return err
}

// ended tells whether ctx is done or its deadline has passed. The socket's
// deadline and the context's timer are set for the same instant and fire in
// either order: a dial may time out before ctx.Err() says so.
func ended(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	d, ok := ctx.Deadline()
	return ok && !time.Now().Before(d)
}

func readLine(r io.Reader) (string, error) {
	var b strings.Builder
	one := make([]byte, 1)
	for {
		if _, err := io.ReadFull(r, one); err != nil {
			if err == io.EOF && b.Len() > 0 {
				err = io.ErrUnexpectedEOF
			}
			return "", err
		}
		if one[0] == '\n' {
			return strings.TrimSuffix(b.String(), "\r"), nil
		}
		b.WriteByte(one[0])
	}
}

// readHeaders reads up to the blank line and returns Content-Length (-1 when
// absent) and whether the body is chunked.
func readHeaders(r io.Reader) (length int64, chunked bool, err error) {
	length = -1
	for {
		line, err := readLine(r)
		if err != nil {
			return 0, false, err
		}
		if line == "" {
			return length, chunked, nil
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return 0, false, fmt.Errorf("malformed MIME header line: %s", line)
		}
		value = strings.TrimSpace(value)
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			if length, err = strconv.ParseInt(value, 10, 64); err != nil || length < 0 {
				return 0, false, fmt.Errorf("bad Content-Length %q", value)
			}
		case "transfer-encoding":
			chunked = strings.EqualFold(value, "chunked")
		}
	}
}

// chunkedReader reads a chunked body's data; its end, or anything it cannot
// parse, is EOF: it only feeds an excerpt.
type chunkedReader struct {
	r    *bufio.Reader
	left int64 // of the current chunk
	done bool
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for c.left == 0 {
		if c.done {
			return 0, io.EOF
		}
		line, err := readLine(c.r)
		if err != nil {
			return 0, err
		}
		size, _, _ := strings.Cut(line, ";") // chunk extensions
		n, err := strconv.ParseInt(strings.TrimSpace(size), 16, 64)
		if err != nil || n <= 0 {
			c.done = true
			return 0, io.EOF
		}
		c.left = n
	}
	n, err := c.r.Read(p[:min(int64(len(p)), c.left)])
	c.left -= int64(n)
	if c.left == 0 && err == nil {
		_, err = readLine(c.r) // the CRLF after the data
	}
	return n, err
}
