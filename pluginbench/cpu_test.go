package pluginbench

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// burn spends CPU in this process's threads until getrusage says it has
// spent at least d more.
func burn(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := rusage(t)
	done := make(chan struct{})
	for range 2 { // two threads: /proc's figure must add them up
		go func() {
			x := 1
			for {
				select {
				case <-done:
					return
				default:
				}
				for i := range 1 << 16 {
					x ^= i * x
				}
			}
		}()
	}
	for rusage(t)-start < d {
		time.Sleep(10 * time.Millisecond)
	}
	close(done)
	return rusage(t) - start
}

func rusage(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The tolerance between /proc's ticks and getrusage's microseconds: a tick
// each for user and system time, at both ends.
const tolerance = 4 * time.Second / userHZ

func TestProcessCPUIsTheTimeOfEveryThreadOfTheProcess(t *testing.T) {
	before, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	spent := burn(t, 300*time.Millisecond)
	after, err := processCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if got := after - before; got < spent-tolerance || got > spent+tolerance+100*time.Millisecond {
		t.Fatalf("processCPU grew by %s while getrusage counted %s", got, spent)
	}
}

// A cluster's CPU is its postmaster's and its children's, those it has
// reaped included (a backend that exited). Here this test process plays
// the postmaster of a shell that spins.
func TestClusterCPUCountsLiveAndReapedChildren(t *testing.T) {
	before, err := clusterCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if child < 100*time.Millisecond {
		t.Fatalf("the child spent only %s: too little to tell from a tick", child)
	}
	after, err := clusterCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if got := after - before; got < child-tolerance {
		t.Fatalf("clusterCPU grew by %s; the reaped child alone spent %s", got, child)
	}
}

func TestProcTimesRefusesAProcessThatDoesNotExist(t *testing.T) {
	if _, err := processCPU(1 << 30); err == nil {
		t.Fatal("processCPU of pid 2^30: no error")
	}
}
