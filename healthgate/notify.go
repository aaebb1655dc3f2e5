package healthgate

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// socketSeq numbers the notify sockets of this process; several gates (and
// tests) may live side by side.
var socketSeq atomic.Uint64

// A notifySocket is the receiving end of systemd's sd_notify protocol.
type notifySocket struct {
	conn *net.UnixConn
	name string // "@tenant-init-notify-<pid>-<n>": abstract, so no file
}

// listenNotify binds an abstract unixgram socket with SO_PASSCRED on, so each
// datagram says which process sent it. Two tenant-inits that are both PID 1 in
// separate PID namespaces may share a network namespace (and so the abstract
// namespace); a taken name moves on to the next number.
func listenNotify() (*notifySocket, error) {
	var err error
	for range 100 {
		name := fmt.Sprintf("@tenant-init-notify-%d-%d", os.Getpid(), socketSeq.Add(1)-1)
		var conn *net.UnixConn
		conn, err = net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
		if errors.Is(err, syscall.EADDRINUSE) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("healthgate: notify socket %s: %w", name, err)
		}
		if err := passCredentials(conn); err != nil {
			conn.Close()
			return nil, fmt.Errorf("healthgate: notify socket %s: SO_PASSCRED: %w", name, err)
		}
		return &notifySocket{conn: conn, name: name}, nil
	}
	return nil, fmt.Errorf("healthgate: no free notify socket name: %w", err)
}

func passCredentials(conn *net.UnixConn) error {
	rc, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	return serr
}

// A message is one sd_notify datagram, reduced to what the gate uses.
type message struct {
	ready  bool   // a line READY=1
	status string // the last STATUS= line, if any
	pid    int    // the sender, from SCM_CREDENTIALS; 0 if unknown
}

func parseMessage(data, oob []byte) message {
	var m message
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		switch {
		case string(line) == "READY=1":
			m.ready = true
		case bytes.HasPrefix(line, []byte("STATUS=")):
			m.status = string(line[len("STATUS="):])
		}
	}
	cmsgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return m
	}
	for i := range cmsgs {
		if cred, err := unix.ParseUnixCredentials(&cmsgs[i]); err == nil {
			m.pid = int(cred.Pid)
		}
	}
	return m
}

// receive takes one queued datagram without blocking; ok is false when the
// queue is empty. A truncated datagram is not an sd_notify message and is
// dropped.
func receive(fd int, buf, oob []byte) (m message, ok bool, err error) {
	for {
		n, oobn, flags, _, err := unix.Recvmsg(fd, buf, oob, unix.MSG_DONTWAIT|unix.MSG_CMSG_CLOEXEC)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return message{}, false, nil
		case err != nil:
			return message{}, false, err
		case flags&unix.MSG_TRUNC != 0:
			return message{}, true, nil
		}
		return parseMessage(buf[:n], oob[:oobn]), true, nil
	}
}

func newBuffers() (buf, oob []byte) {
	return make([]byte, 4096), make([]byte, unix.CmsgSpace(unix.SizeofUcred))
}

// drain empties the queue before a Wait. What it finds was mostly sent by
// an earlier run of the sidecar and must not pass this one; but the sidecar
// of this run may already have notified between its spawn and the Wait. The
// sender's pid tells them apart: an earlier run is dead (the supervisor reaped
// it before restarting), this one is alive. fresh reports a READY=1 from a
// live sender.
func (s *notifySocket) drain() (fresh bool, status string, err error) {
	rc, err := s.conn.SyscallConn()
	if err != nil {
		return false, "", err
	}
	buf, oob := newBuffers()
	var rerr error
	err = rc.Read(func(fd uintptr) bool {
		for {
			m, ok, err := receive(int(fd), buf, oob)
			if err != nil || !ok {
				rerr = err
				return true
			}
			if m.pid == 0 || !alive(m.pid) {
				continue
			}
			fresh = fresh || m.ready
			if m.status != "" {
				status = m.status
			}
		}
	})
	return fresh, status, errors.Join(err, rerr)
}

// alive reports whether pid names a process; EPERM still means it exists.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || err == unix.EPERM
}

// listen hands every message that arrives to got until stop is called; stop
// returns once nothing reads the socket any more, so the next drain sees
// every datagram that came after.
func (s *notifySocket) listen(got func(message)) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		rc, err := s.conn.SyscallConn()
		if err != nil {
			return
		}
		buf, oob := newBuffers()
		for {
			var m message
			var ok bool
			var rerr error
			// Returning false parks the goroutine until the socket is
			// readable or the read deadline that stop sets passes.
			err := rc.Read(func(fd uintptr) bool {
				m, ok, rerr = receive(int(fd), buf, oob)
				return ok || rerr != nil
			})
			if err != nil || rerr != nil {
				return
			}
			got(m)
		}
	}()
	return func() {
		s.conn.SetReadDeadline(time.Unix(1, 0))
		<-done
		s.conn.SetReadDeadline(time.Time{})
	}
}

func (s *notifySocket) close() error { return s.conn.Close() }

// Notify sends state (for example "READY=1" or "STATUS=migrating") to the
// socket named by $NOTIFY_SOCKET, as systemd's sd_notify does; it does nothing
// when the variable is unset. Sidecars call it once they serve.
func Notify(state string) error {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("sd_notify to %s: %w", name, err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return fmt.Errorf("sd_notify to %s: %w", name, err)
	}
	return nil
}
