package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The helper services tests run under tenant-init: this test binary,
// re-executed with TENANT_INIT_TEST_HELPER naming one of these. They report on
// stdout, which tenant-init passes through, so tests await their lines.
var helpers = map[string]func(args []string) int{
	// signals reports each test signal received by itself and by a member of its
	// process group, then both die of it.
	"signals": func([]string) int {
		member := exec.Command(os.Args[0])
		member.Env = append(os.Environ(), helperEnv+"=signal-member")
		member.Stdout, member.Stderr = os.Stdout, os.Stderr
		if err := member.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		return reportSignal("leader")
	},
	"signal-member": func([]string) int { return reportSignal("member") },

	// ignore-term ignores SIGTERM, so only SIGKILL ends it.
	"ignore-term": func([]string) int {
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		return blockForever()
	},

	// graceful exits 0 on SIGTERM, saying so.
	"graceful": func([]string) int {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		<-c
		fmt.Println("graceful exit")
		return 0
	},

	// dispositions reports which signals it ignores (SigIgn) and blocks
	// (SigBlk), as hexadecimal masks, then exits 0 on SIGTERM.
	"dispositions": func([]string) int {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Printf("ignored=%x\n", procStatusMask("SigIgn"))
		<-c
		return 0
	},

	// storm-target stands a storm of forwarded signals (SIGHUP, SIGUSR1 and
	// SIGWINCH ignored), leaves N orphans to tenant-init meanwhile, and exits 0
	// on SIGTERM.
	"storm-target": func(args []string) int {
		signal.Ignore(syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGWINCH)
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		parent := exec.Command(os.Args[0], args...)
		parent.Env = append(os.Environ(), helperEnv+"=orphan-parent")
		parent.Stderr = os.Stderr
		if err := parent.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "orphan parent:", err)
			return 1
		}
		fmt.Println("orphaned", args[0])
		<-c
		fmt.Println("graceful exit")
		return 0
	},

	// orphans N leaves N orphans to tenant-init: a child starts N processes and
	// exits without waiting for them.
	"orphans": func(args []string) int {
		parent := exec.Command(os.Args[0], args...)
		parent.Env = append(os.Environ(), helperEnv+"=orphan-parent")
		parent.Stderr = os.Stderr
		if err := parent.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "orphan parent:", err)
			return 1
		}
		fmt.Println("orphaned", args[0])
		return blockForever()
	},
	"orphan-parent": func(args []string) int {
		n, _ := strconv.Atoi(args[0])
		const workers = 8 // a fork waits for its exec; overlap the waits
		errs := make(chan error, workers)
		for w := range workers {
			go func() {
				var err error
				for i := w; i < n && err == nil; i += workers {
					_, err = syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
				}
				errs <- err
			}()
		}
		for range workers {
			if err := <-errs; err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
		}
		return 0
	},

	// daemon leaves a process in its own session, then exits once it is ready.
	"daemon": func([]string) int {
		r, w, err := os.Pipe()
		if err != nil {
			return 1
		}
		d := exec.Command(os.Args[0])
		d.Env = append(os.Environ(), helperEnv+"=daemon-child")
		d.Stdout, d.Stderr, d.ExtraFiles = os.Stdout, os.Stderr, []*os.File{w}
		d.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
		if err := d.Start(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		w.Close()
		r.Read(make([]byte, 1)) // EOF once the daemon is ready
		return 0
	},
	"daemon-child": func([]string) int {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		os.NewFile(3, "ready").Close()
		<-c
		fmt.Println("daemon got SIGTERM")
		return 0
	},

	// terminal reports whether it owns the terminal and whether it ignores the
	// job-control signals, then waits for Ctrl-C to kill it.
	"terminal": func([]string) int {
		pgrp, err := unix.IoctlGetInt(0, unix.TIOCGPGRP)
		fmt.Printf("foreground=%v\n", err == nil && pgrp == syscall.Getpgrp())
		status, _ := os.ReadFile("/proc/self/status")
		for line := range strings.SplitSeq(string(status), "\n") {
			if ignored, ok := strings.CutPrefix(line, "SigIgn:"); ok {
				mask, _ := strconv.ParseUint(strings.TrimSpace(ignored), 16, 64)
				fmt.Printf("ignores SIGTTIN=%v SIGTTOU=%v\n", mask&(1<<(syscall.SIGTTIN-1)) != 0, mask&(1<<(syscall.SIGTTOU-1)) != 0)
			}
		}
		return blockForever()
	},
}

func runHelper(name string, args []string) int {
	h, ok := helpers[name]
	if !ok {
		fmt.Fprintln(os.Stderr, "no helper", name)
		return 2
	}
	return h(args)
}

// testSignals are the signals the issue says must reach the main service.
var testSignals = []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGQUIT}

// reportSignal says it is ready, then reports the first test signal and dies of it.
func reportSignal(role string) int {
	c := make(chan os.Signal, 1)
	for _, sig := range testSignals {
		signal.Notify(c, sig)
	}
	fmt.Println(role, "ready")
	sig := (<-c).(syscall.Signal)
	fmt.Println(role, "got", unix.SignalName(sig))
	dieOf(sig)
	return 1
}

// dieOf ends the process by sig with the default action, as a C program would.
// The Go runtime cannot: it ignores SIGUSR1 and turns SIGQUIT into exit 2. So
// the process becomes a shell (same pid, default dispositions) that signals itself.
func dieOf(sig syscall.Signal) {
	unix.Setrlimit(unix.RLIMIT_CORE, &unix.Rlimit{}) // no core file from SIGQUIT
	name := strings.TrimPrefix(unix.SignalName(sig), "SIG")
	err := syscall.Exec("/bin/sh", []string{"sh", "-c", "kill -s " + name + " $$"}, os.Environ())
	fmt.Fprintln(os.Stderr, "exec sh:", err)
}

// procStatusMask reads a signal mask (SigIgn, SigBlk, ...) of /proc/self/status.
func procStatusMask(field string) uint64 {
	status, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return mask
		}
	}
	return 0
}

// blockForever waits to be killed.
func blockForever() int {
	for {
		time.Sleep(time.Hour)
	}
}
