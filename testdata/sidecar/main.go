// Command sidecar stands in for memory-plugin in tests of the boot gate. It
// is configured by its environment alone, because tenant-init starts
// MEMORY_PLUGIN_BIN without arguments:
//
//	MEMORY_PLUGIN_LISTEN_ADDR  where to serve GET /v1/health (127.0.0.1:9100)
//	SIDECAR_READY_AFTER        answer 503 until this long after start, then 200 (0)
//	SIDECAR_NEVER_READY=1      answer 503 forever
//	SIDECAR_FAIL_AFTER         after this long, print SIDECAR_FAIL_MESSAGE to
//	                           stderr and exit 1 without ever being ready
//	SIDECAR_FAIL_MESSAGE       (pq: extension "vector" is not available)
//	SIDECAR_NOTIFY=1           send READY=1 to $NOTIFY_SOCKET when healthy
//	SIDECAR_CRASH_AFTER        once healthy, exit 1 after this long
//	SIDECAR_CRASH_FILE         once healthy, exit 1 when this file exists
//
// It prints "sidecar: listening on <addr> pid <pid>" and "sidecar: healthy at
// <RFC 3339 time>" on stdout for tests to wait on; the time, taken as /v1/health
// turns to 200, is what benchmarks of the gate measure from. A bad value exits 78. Build it with
//
//	go build -o memory-plugin github.com/agentplatform/tenant-init/testdata/sidecar
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/healthgate"
)

type config struct {
	listen      string
	readyAfter  time.Duration
	neverReady  bool
	failAfter   time.Duration
	failMessage string
	notify      bool
	crashAfter  time.Duration
	crashFile   string
}

func main() {
	c, err := read(envvar.OS)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidecar:", err)
		os.Exit(78)
	}
	ln, err := net.Listen("tcp", c.listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "sidecar:", err)
		os.Exit(1)
	}
	fmt.Printf("sidecar: listening on %s pid %d\n", ln.Addr(), os.Getpid())

	var healthy atomic.Bool
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/health" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		if !healthy.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, `{"status":"degraded","version":"test","capabilities":[]}`)
			return
		}
		fmt.Fprintln(w, `{"status":"ok","version":"test","capabilities":[]}`)
	}))

	switch {
	case c.failAfter > 0:
		time.Sleep(c.failAfter)
		fmt.Fprintln(os.Stderr, c.failMessage)
		os.Exit(1)
	case c.neverReady:
		select {}
	}
	time.Sleep(c.readyAfter)
	at := time.Now() // before the flip: no probe can see 200 earlier
	healthy.Store(true)
	fmt.Println("sidecar: healthy at " + at.Format(time.RFC3339Nano))
	if c.notify {
		if err := healthgate.Notify("READY=1\nSTATUS=serving"); err != nil {
			fmt.Fprintln(os.Stderr, "sidecar:", err)
		}
	}
	crash(c)
}

// crash returns never: it exits 1 when the crash condition is met, and
// otherwise serves until killed.
func crash(c config) {
	var after <-chan time.Time
	if c.crashAfter > 0 {
		after = time.After(c.crashAfter)
	}
	var poll <-chan time.Time
	if c.crashFile != "" {
		t := time.NewTicker(10 * time.Millisecond)
		poll = t.C
	}
	for {
		select {
		case <-after:
			fmt.Fprintf(os.Stderr, "sidecar: crashing %s after becoming healthy\n", c.crashAfter)
			os.Exit(1)
		case <-poll:
			if _, err := os.Stat(c.crashFile); err == nil {
				fmt.Fprintf(os.Stderr, "sidecar: crashing: %s appeared\n", c.crashFile)
				os.Exit(1)
			}
		}
	}
}

func read(env envvar.Lookup) (config, error) {
	c := config{
		listen:      env.String("MEMORY_PLUGIN_LISTEN_ADDR", "127.0.0.1:9100"),
		failMessage: env.String("SIDECAR_FAIL_MESSAGE", `pq: extension "vector" is not available`),
		crashFile:   env.String("SIDECAR_CRASH_FILE", ""),
	}
	var err error
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"SIDECAR_READY_AFTER", &c.readyAfter}, {"SIDECAR_FAIL_AFTER", &c.failAfter}, {"SIDECAR_CRASH_AFTER", &c.crashAfter}} {
		if *d.to, err = env.Duration(d.name, 0); err != nil {
			return c, err
		}
	}
	if c.neverReady, err = env.Bool("SIDECAR_NEVER_READY", false); err != nil {
		return c, err
	}
	c.notify, err = env.Bool("SIDECAR_NOTIFY", false)
	return c, err
}
