package supervisor

import (
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"testing"
	"time"
)

// A burst of forwarded signals fills their path, and os/signal drops what does
// not fit; SIGTERM and SIGCHLD must get through all the same.
func TestAFullForwardPathLosesNeitherSIGTERMNorSIGCHLD(t *testing.T) {
	s, _ := newSupervisor(Config{Services: []Service{{Name: "main", Argv: []string{"true"}}}})
	s.catchSignals()
	t.Cleanup(func() { signal.Reset() })

	deadline := time.After(30 * time.Second)
	self := os.Getpid()
	for len(s.sig.forward) < cap(s.sig.forward) {
		if err := syscall.Kill(self, syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		select {
		case <-deadline:
			t.Fatalf("the forward path never filled: %d of %d", len(s.sig.forward), cap(s.sig.forward))
		default:
		}
	}

	if err := syscall.Kill(self, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case sig := <-s.sig.terminate:
		if sig != syscall.SIGTERM {
			t.Fatalf("the terminate path carried %v", sig)
		}
	case <-deadline:
		t.Fatal("SIGTERM lost behind a full forward path")
	}

	// A child's exit, its wait left to os/exec: SIGCHLD all the same.
	if err := exec.Command("true").Run(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.sig.reap:
	case <-deadline:
		t.Fatal("SIGCHLD lost behind a full forward path")
	}
}
