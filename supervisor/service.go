package supervisor

import (
	"bufio"
	"bytes"
	"io"
	"os"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// service is a declared Service and what the supervisor knows of it.
type service struct {
	Service
	proc *process // the latest run; nil before the first spawn

	// Sidecars only.
	state    sidecarState
	tail     *stderrTail
	backoff  backoff.BackOff // restart delays; Stop once the crash-loop limit is reached
	restarts int             // restarts so far, for the logs
	stopGate func()          // ends the gate in flight
}

type sidecarState int

const (
	notStarted sidecarState = iota
	gating                  // spawned, its gate in flight
	up                      // ready (or ungated) and running
	down                    // died or failed; a restart is scheduled
	stopping                // failed while running; being stopped
	gaveUp                  // failed for good under its FailurePolicy
)

func newService(d Service) *service {
	svc := &service{Service: d}
	if d.Role != Sidecar {
		return svc
	}
	if svc.GateTimeout <= 0 {
		svc.GateTimeout = defaultGateTimeout
	}
	r := &svc.Restart
	if r.FirstDelay <= 0 {
		r.FirstDelay = time.Second
	}
	if r.MaxDelay <= 0 {
		r.MaxDelay = 30 * time.Second
	}
	if r.Limit <= 0 {
		r.Limit = 5
	}
	if r.StableAfter <= 0 {
		r.StableAfter = time.Minute
	}
	svc.backoff = backoff.WithMaxRetries(backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(r.FirstDelay),
		backoff.WithMaxInterval(r.MaxDelay),
		backoff.WithMultiplier(2),
		backoff.WithMaxElapsedTime(0),
	), uint64(r.Limit))
	svc.tail = &stderrTail{}
	return svc
}

// running says whether the latest run is still to be reaped.
func (svc *service) running() bool {
	return svc.proc != nil && !svc.proc.reaped()
}

// tailLines is how much of a sidecar's stderr a failure message repeats: enough
// for a stack of "caused by" lines, little enough for one log line.
const (
	tailLines   = 20
	tailLineMax = 512
)

// stderrTail passes a sidecar's stderr through and keeps its last lines, so that a
// failure message can say why (e.g. `pq: extension "vector" is not available`)
// without anyone digging. It spans restarts: the latest lines are the ones that
// matter.
type stderrTail struct {
	mu      sync.Mutex
	lines   []string
	partial []byte
}

// follow copies r to w until EOF, keeping lines, and closes r. It copies whole
// lines, ending an unterminated last one, so that the init's own log lines on the
// same stderr never run into a sidecar's. The returned channel is closed at EOF.
func (t *stderrTail) follow(r *os.File, w io.Writer) <-chan struct{} {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer r.Close()
		br := bufio.NewReaderSize(r, 4096)
		for {
			line, err := br.ReadSlice('\n') // a line longer than the buffer comes in pieces
			if err == io.EOF && len(line) > 0 {
				line = append(line[:len(line):len(line)], '\n')
			}
			if len(line) > 0 {
				w.Write(line) // best effort: a closed stderr must not stop the sidecar
				t.keep(line)
			}
			if err != nil && err != bufio.ErrBufferFull {
				return
			}
		}
	}()
	return done
}

func (t *stderrTail) keep(b []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			t.partial = append(t.partial, b...)
			if len(t.partial) > tailLineMax {
				t.partial = t.partial[:tailLineMax]
			}
			return
		}
		t.push(string(append(t.partial, b[:i]...)))
		t.partial = t.partial[:0]
		b = b[i+1:]
	}
}

func (t *stderrTail) push(line string) {
	if len(line) > tailLineMax {
		line = line[:tailLineMax]
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > tailLines {
		t.lines = t.lines[len(t.lines)-tailLines:]
	}
}

// last returns the kept lines, an unterminated last line included.
func (t *stderrTail) last() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	lines := append([]string(nil), t.lines...)
	if len(t.partial) > 0 {
		lines = append(lines, string(t.partial))
		if len(lines) > tailLines {
			lines = lines[1:]
		}
	}
	return lines
}
