package initbench

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// StampEnv, set to 1 in a re-executed test binary, makes it the stamp service.
const StampEnv = "INITBENCH_STAMP_SERVICE"

// Stamp is the service of the forwarding measurement: it prints "ready", then,
// for every SIGUSR1 it receives, the CLOCK_MONOTONIC reading in nanoseconds at
// receipt; SIGTERM ends it. Both inits run this same program, so its own share
// of the latency (the Go runtime's signal delivery to a goroutine) is equal.
func Stamp() int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	fmt.Println("ready")
	for sig := range sigs {
		if sig == syscall.SIGTERM {
			return 0
		}
		fmt.Println(monotonic())
	}
	return 0
}

// monotonic reads CLOCK_MONOTONIC, the clock both processes share.
func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// A running is an init running the stamp service.
type running struct {
	init  Init
	pid   int        // as seen from here
	done  chan error // the init's exit
	out   *os.File   // the service's stdout, a pipe with read deadlines
	stamp *bufio.Scanner
}

// stampWait is how long a sample waits for the service's stamp: a lost
// signal fails the run at once with its name instead of hanging until the
// test binary's timeout.
const stampWait = 10 * time.Second

// Forwarding starts each of inits as PID 1 with the stamp service (service is
// the command line that runs Stamp), sends SIGUSR1 to the init samples times
// each, interleaved, and returns the latencies from just before kill(2) to the
// service's receipt, by init name, and each init's VmRSS in bytes, read after
// the samples while the service still runs.
func Forwarding(inits []Init, service []string, samples int) (lat map[string][]time.Duration, rss map[string]int64, err error) {
	var runs []*running
	defer func() {
		for _, r := range runs {
			syscall.Kill(r.pid, syscall.SIGTERM)
			select {
			case <-r.done:
			case <-time.After(10 * time.Second):
				syscall.Kill(r.pid, syscall.SIGKILL)
				<-r.done
			}
		}
	}()
	for _, in := range inits {
		r, err := startStamped(in, service)
		if err != nil {
			return nil, nil, err
		}
		runs = append(runs, r)
	}
	lat = map[string][]time.Duration{}
	for i := 0; i < samples; i++ {
		for j := range runs {
			r := runs[(i+j)%len(runs)]
			sent := monotonic()
			if err := syscall.Kill(r.pid, syscall.SIGUSR1); err != nil {
				return nil, nil, fmt.Errorf("signal %s: %w", r.init.Name, err)
			}
			if err := r.out.SetReadDeadline(time.Now().Add(stampWait)); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", r.init.Name, err)
			}
			if !r.stamp.Scan() {
				if errors.Is(r.stamp.Err(), os.ErrDeadlineExceeded) {
					return nil, nil, fmt.Errorf("%s: no stamp within %s of SIGUSR1 %d of %d: the init lost the signal or the service hung",
						r.init.Name, stampWait, i+1, samples)
				}
				return nil, nil, fmt.Errorf("%s: the stamp service stopped answering (%v)", r.init.Name, r.stamp.Err())
			}
			got, err := strconv.ParseInt(r.stamp.Text(), 10, 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%s: stamp %q: %w", r.init.Name, r.stamp.Text(), err)
			}
			lat[r.init.Name] = append(lat[r.init.Name], time.Duration(got-sent))
		}
	}
	rss = map[string]int64{}
	for _, r := range runs {
		if rss[r.init.Name], err = VmRSS(r.pid); err != nil {
			return nil, nil, err
		}
	}
	return lat, rss, nil
}

func startStamped(in Init, service []string) (*running, error) {
	cmd := command(PID1, in.Argv(PID1, service))
	cmd.Env = append(os.Environ(), StampEnv+"=1")
	cmd.Stdout = nil
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	out, ok := pipe.(*os.File)
	if !ok {
		return nil, fmt.Errorf("start %s: the stdout pipe is a %T, not an *os.File with read deadlines", in.Name, pipe)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", in.Name, err)
	}
	r := &running{init: in, pid: cmd.Process.Pid, done: make(chan error, 1), out: out, stamp: bufio.NewScanner(out)}
	ready := make(chan bool, 1)
	go func() { ready <- r.stamp.Scan() && r.stamp.Text() == "ready" }()
	select {
	case ok := <-ready:
		if !ok {
			cmd.Process.Kill()
			cmd.Wait()
			return nil, fmt.Errorf("%s: the stamp service did not say ready", in.Name)
		}
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("%s: the stamp service did not say ready within 30s", in.Name)
	}
	go func() { r.done <- cmd.Wait() }()
	return r, nil
}

// VmRSS reads the resident set size of process pid, in bytes.
func VmRSS(pid int) (int64, error) {
	rss, _, err := Memory(pid)
	return rss, err
}

// Memory reads process pid's resident set now (VmRSS) and at its peak
// (VmHWM), in bytes, from /proc/<pid>/status. It is the one reader of that
// file for the benchmarks: this package's and pluginbench's.
func Memory(pid int) (rss, hwm int64, err error) {
	path := fmt.Sprintf("/proc/%d/status", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, err
	}
	var found int
	for line := range strings.SplitSeq(string(b), "\n") {
		key, value, _ := strings.Cut(line, ":")
		var into *int64
		switch key {
		case "VmRSS":
			into = &rss
		case "VmHWM":
			into = &hwm
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("%s: %s: %w", path, key, err)
		}
		*into = kb << 10
		found++
	}
	if found != 2 {
		return 0, 0, fmt.Errorf("no VmRSS and VmHWM in %s", path)
	}
	return rss, hwm, nil
}
