// Command goinit is the least a Go init does that tenant-init does too: it
// subscribes to the 60 signals tenant-init catches (os/signal, one
// signal.Notify each), becomes a child subreaper unless it is PID 1, starts
// COMMAND (goinit -- COMMAND [ARGS...]) in a process group of its own, relays
// every signal but SIGCHLD to that group with kill(2), and exits with
// COMMAND's status once it has reaped it. No configuration, no logging, no
// shutdown phases.
//
// initbench measures it beside tini and tenant-init: it is the floor a PID 1
// written in Go stands on (the runtime's start, os/signal's subscriptions,
// its path from a signal to a goroutine), so the part of tenant-init's
// distance to tini that no Go code of its own could remove.
package main

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

func main() {
	sigs := make(chan os.Signal, 64)
	for n := syscall.Signal(1); n <= 64; n++ {
		switch n {
		case syscall.SIGKILL, syscall.SIGSTOP, syscall.SIGURG, syscall.SIGPROF, 32, 33, syscall.SIGTTIN, syscall.SIGTTOU:
			continue
		}
		signal.Notify(sigs, n)
	}
	if os.Getpid() != 1 {
		unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	}
	argv := os.Args[1:]
	if len(argv) > 0 && argv[0] == "--" {
		argv = argv[1:]
	}
	if len(argv) == 0 {
		os.Exit(64)
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		os.Exit(127)
	}
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{
		Env:   os.Environ(),
		Files: []uintptr{0, 1, 2},
		Sys:   &syscall.SysProcAttr{Setpgid: true},
	})
	if err != nil {
		os.Exit(126)
	}
	for sig := range sigs {
		if sig != syscall.SIGCHLD {
			unix.Kill(-pid, sig.(syscall.Signal))
			continue
		}
		for {
			var status syscall.WaitStatus
			got, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
			if err != nil || got == 0 {
				break
			}
			if got == pid {
				if status.Signaled() {
					os.Exit(128 + int(status.Signal()))
				}
				os.Exit(status.ExitStatus())
			}
		}
	}
}
