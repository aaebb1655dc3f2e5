package initbench

import (
	"io"
	"os/exec"
	"syscall"
	"time"
)

// command prepares argv to run in mode: a fresh PID namespace for PID1. Stdout
// and stderr are pipes that os/exec drains, as a container runtime would.
func command(mode Mode, argv []string) *exec.Cmd {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if mode == PID1 {
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID}
	}
	return cmd
}

// Startup runs `INIT -- true` runs times for each of inits, interleaved (one run
// of each in turn), and returns the wall time of each run, from before the
// fork to the init's reaping, by init name.
func Startup(inits []Init, mode Mode, runs int) (map[string][]time.Duration, error) {
	times := map[string][]time.Duration{}
	for i := 0; i < runs; i++ {
		for j := range inits {
			in := inits[(i+j)%len(inits)] // alternate which goes first
			cmd := command(mode, in.Argv(mode, []string{"true"}))
			start := time.Now()
			if err := cmd.Run(); err != nil {
				return nil, &runError{in.Name, mode, err}
			}
			times[in.Name] = append(times[in.Name], time.Since(start))
		}
	}
	return times, nil
}

type runError struct {
	init string
	mode Mode
	err  error
}

func (e *runError) Error() string {
	return e.init + " -- true as " + e.mode.String() + ": " + e.err.Error()
}
