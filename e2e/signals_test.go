package e2e

import (
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestDockerKillSignalsReachTheMainService(t *testing.T) {
	t.Parallel()
	c := start(t, spec{})
	c.waitFor(t, "demomain: started")
	for _, sig := range []string{"USR1", "USR2", "HUP"} {
		t.Run("SIG"+sig+" reaches the main service and it keeps running", func(t *testing.T) {
			mustDocker(t, "kill", "-s", sig, c.name)
			c.waitFor(t, "demomain: got SIG"+sig)
			if !c.running() {
				t.Fatalf("the container exited after SIG%s", sig)
			}
		})
	}
}

// TestCtrlCInAnInteractiveContainerReachesTheMainService drives `docker run
// -it` through a pseudo-terminal made by util-linux's script(1) and types
// Ctrl-C: the container's TTY turns it into SIGINT, which must reach the main
// service, which dies of it, so the container exits 130 (128 + SIGINT).
func TestCtrlCInAnInteractiveContainerReachesTheMainService(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("script"); err != nil {
		t.Fatalf("script(1) from util-linux is needed to give docker run -it a terminal: %v", err)
	}
	image := demoImage(t)
	name := containerName(t)
	t.Cleanup(func() { _, _ = docker("rm", "-f", name) })

	out := newOutput()
	cmd := exec.Command("script", "-qfec",
		"docker run --rm -it --name "+name+" --label "+containerLabel()+" "+image, "/dev/null")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	if err := out.waitFor("demomain: started", exited, bootTimeout); err != nil {
		t.Fatalf("docker run -it: %v\n%s", err, out.text())
	}
	if _, err := stdin.Write([]byte{0x03}); err != nil {
		t.Fatalf("typing Ctrl-C: %v", err)
	}
	if err := out.waitFor("demomain: got SIGINT", exited, bootTimeout); err != nil {
		t.Fatalf("Ctrl-C: %v\n%s", err, out.text())
	}
	select {
	case <-exited:
	case <-time.After(bootTimeout):
		t.Fatalf("docker run -it still runs %s after Ctrl-C\n%s", bootTimeout, out.text())
	}
	var exit *exec.ExitError
	code := 0
	if errors.As(waitErr, &exit) {
		code = exit.ExitCode()
	} else if waitErr != nil {
		t.Fatal(waitErr)
	}
	if code != 130 {
		t.Errorf("exit status %d after Ctrl-C, want 130 (the main service died of SIGINT)\n%s", code, out.text())
	}
	if strings.Count(out.text(), "demomain: started") != 1 {
		t.Errorf("the main service started more than once:\n%s", out.text())
	}
}
