package supervisor

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// faultEnv makes the test binary, re-executed, the init that faults.
const faultEnv = "SUPERVISOR_TEST_REAL_FAULT"

func TestARealFaultOfTheInitStillCrashesItLoudly(t *testing.T) {
	if os.Getenv(faultEnv) != "" {
		s, _ := newSupervisor(Config{Services: []Service{{Name: "main", Argv: []string{"true"}}}})
		s.catchSignals() // SIGSEGV caught for signals sent by others
		var p *int
		fmt.Println(*p) // a fault of the init's own: the kernel's SIGSEGV
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestARealFaultOfTheInitStillCrashesItLoudly$")
	cmd.Env = append(os.Environ(), faultEnv+"=1")
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("the faulting init ended with %v, want exit status 2; output:\n%s", err, out)
	}
	for _, want := range []string{"nil pointer dereference", "[signal SIGSEGV", "goroutine "} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the crash report lacks %q:\n%s", want, out)
		}
	}
}
