package inittest

import (
	"bufio"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// Lines collects the lines of a stream as they come, for tests to await.
type Lines struct {
	mu    sync.Mutex
	lines []string
	grew  chan struct{} // closed and replaced at each new line
	done  chan struct{} // closed at EOF
}

func readLines(r io.ReadCloser) *Lines {
	l := &Lines{grew: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		defer r.Close()
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, strings.TrimSuffix(sc.Text(), "\r")) // a terminal's lines end in \r\n
			close(l.grew)
			l.grew = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

// All returns the lines so far.
func (l *Lines) All() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// Await waits for a line that match accepts, among those already read and those
// to come, and returns it. It fails the test at EOF or after Timeout.
func (l *Lines) Await(t testing.TB, match func(string) bool) string {
	t.Helper()
	timeout := time.After(Timeout)
	seen := 0
	for {
		l.mu.Lock()
		lines, grew := l.lines[seen:], l.grew
		seen = len(l.lines)
		l.mu.Unlock()
		for _, line := range lines {
			if match(line) {
				return line
			}
		}
		select {
		case <-grew:
		case <-l.done:
			if len(l.All()) == seen {
				t.Fatalf("no such line before EOF; got:\n%s", strings.Join(l.All(), "\n"))
			}
		case <-timeout:
			t.Fatalf("no such line within %v; got:\n%s", Timeout, strings.Join(l.All(), "\n"))
		}
	}
}

// AwaitContains waits for a line containing s.
func (l *Lines) AwaitContains(t testing.TB, s string) string {
	t.Helper()
	return l.Await(t, func(line string) bool { return strings.Contains(line, s) })
}

func (l *Lines) awaitEOF(bound time.Duration) {
	select {
	case <-l.done:
	case <-time.After(bound):
	}
}
