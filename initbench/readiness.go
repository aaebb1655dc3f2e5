package initbench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/agentplatform/tenant-init/healthgate"
)

// A Shape is how a modelled sidecar becomes ready.
type Shape int

const (
	// ListensWhenReady: nothing listens until the sidecar is ready, then it
	// answers 200 at once. The memory plugin's shape: it migrates, then listens.
	ListensWhenReady Shape = iota
	// ServesUnready: it listens from the start and answers 503 until ready.
	ServesUnready
)

func (s Shape) String() string {
	if s == ListensWhenReady {
		return "listens when ready"
	}
	return "503 until ready"
}

// ReadinessResult is what Readiness measured.
type ReadinessResult struct {
	Lags     []time.Duration // readiness to the gate passing, one per offset
	Requests int64           // HTTP requests the sidecar served, in all
	Waited   time.Duration   // the gates' waits, in all
}

// Readiness measures how late a healthgate.Gate with its default schedule
// notices that a sidecar of the given shape turned ready, offsets after the
// wait began (once per offset), and how many HTTP requests the sidecar had to
// serve meanwhile.
func Readiness(shape Shape, offsets []time.Duration) (ReadinessResult, error) {
	var res ReadinessResult
	for _, off := range offsets {
		lag, n, waited, err := readinessOnce(shape, off)
		if err != nil {
			return res, err
		}
		res.Lags = append(res.Lags, lag)
		res.Requests += n
		res.Waited += waited
	}
	return res, nil
}

func readinessOnce(shape Shape, offset time.Duration) (lag time.Duration, requests int64, waited time.Duration, err error) {
	// A loopback port of our own, free again until the sidecar listens on it.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, 0, 0, err
	}
	addr := l.Addr().String()
	var ready atomic.Bool
	var count atomic.Int64
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		count.Add(1)
		if !ready.Load() {
			http.Error(w, `{"status":"starting"}`, http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, `{"status":"ok"}`)
	})}
	defer srv.Close()
	if shape == ServesUnready {
		go srv.Serve(l)
	} else {
		l.Close()
	}

	gate, err := healthgate.New("http://"+addr, 30*time.Second)
	if err != nil {
		return 0, 0, 0, err
	}
	defer gate.Close()

	became := make(chan time.Time, 1)
	listenErr := make(chan error, 1)
	timer := time.AfterFunc(offset, func() {
		if shape == ListensWhenReady {
			l, err := net.Listen("tcp", addr)
			if err != nil {
				listenErr <- err
				return
			}
			ready.Store(true)
			became <- time.Now()
			go srv.Serve(l)
			return
		}
		became <- time.Now()
		ready.Store(true)
	})
	defer timer.Stop()
	start := time.Now()
	_, err = gate.Wait(context.Background(), nil)
	passed := time.Now()
	if err != nil {
		return 0, 0, 0, err
	}
	select {
	case at := <-became:
		return passed.Sub(at), count.Load(), passed.Sub(start), nil
	case err := <-listenErr:
		return 0, 0, 0, err
	}
}
