package supervisor_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/agentplatform/tenant-init/logging"
	"github.com/agentplatform/tenant-init/supervisor"
)

// The supervisor runs in a process of its own, as it does in tenant-init: this
// test binary re-executed in the role SUPERVISOR_TEST_ROLE names. The "init"
// role runs supervisor.Run with a gated sidecar and a main service, both this
// binary again in the "sidecar" and "main" roles.
const (
	roleEnv   = "SUPERVISOR_TEST_ROLE"
	configEnv = "SUPERVISOR_TEST_CONFIG"
)

// testConfig is what a test asks of the init role.
type testConfig struct {
	Dir         string // holds the FIFOs and the sidecar's run counter
	Plan        string // what each sidecar run does, see runSidecar
	GateTimeout time.Duration
	Degrade     bool
	Restart     supervisor.RestartPolicy
	Grace       time.Duration
}

const exported = "MEMORY_PLUGIN_URL=http://127.0.0.1:9100"

func runRole(role string) int {
	switch role {
	case "init":
		return runInit()
	case "sidecar":
		return runSidecar()
	case "main":
		return runMain()
	}
	fmt.Fprintln(os.Stderr, "unknown role", role)
	return 2
}

func runInit() int {
	var c testConfig
	if err := json.Unmarshal([]byte(os.Getenv(configEnv)), &c); err != nil {
		fmt.Fprintln(os.Stderr, "bad test config:", err)
		return 2
	}
	self, _ := os.Executable()
	policy := supervisor.Abort
	if c.Degrade {
		policy = supervisor.Degrade
	}
	log := logging.New(logging.JSON, logging.InfoLevel, os.Stderr)
	return supervisor.Run(supervisor.Config{
		Services: []supervisor.Service{
			{
				Name: "memory-plugin", Role: supervisor.Sidecar, Argv: []string{self},
				Env:         []string{roleEnv + "=sidecar"},
				Gate:        fifoGate{filepath.Join(c.Dir, "ready")},
				GateTimeout: c.GateTimeout,
				Exports:     []string{exported},
				OnFailure:   policy,
				Restart:     c.Restart,
				Hint:        "run `tenant-init check` to diagnose",
			},
			{Name: "main", Role: supervisor.Main, Argv: []string{self}, Env: []string{roleEnv + "=main"}},
		},
		Grace:     c.Grace,
		AllowRoot: true,
		Log:       log,
	})
}

// fifoGate is the simplest real Gate: the sidecar is ready once it writes a line
// to the FIFO named in its environment.
type fifoGate struct{ path string }

func (g fifoGate) Env() []string { return []string{"READY_FIFO=" + g.path} }

func (g fifoGate) Wait(ctx context.Context, exited <-chan struct{}) (string, error) {
	// Read-write: the open does not wait for a writer, and reads never see EOF.
	f, err := os.OpenFile(g.path, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	defer f.Close() // ends the read below
	line := make(chan error, 1)
	go func() {
		_, err := bufio.NewReader(f).ReadString('\n')
		line <- err
	}()
	select {
	case err := <-line:
		return "fifo", err
	case <-exited:
		return "", errors.New("sidecar exited")
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

// runSidecar does the next step of the plan: steps separated by ";", one per
// run, the last repeating.
//
//	ready        write the ready line, then run until SIGTERM
//	ready+crash  write the ready line, then exit 1 when a line comes on the crash FIFO
//	fail         write 30 lines and a last word to stderr, then exit 1
//	never        never become ready; run until SIGTERM
func runSidecar() int {
	var c testConfig
	json.Unmarshal([]byte(os.Getenv(configEnv)), &c)
	counter, err := os.OpenFile(filepath.Join(c.Dir, "runs"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return 2
	}
	counter.Write([]byte{'.'})
	fi, _ := counter.Stat()
	steps := strings.Split(c.Plan, ";")
	step := steps[min(int(fi.Size()), len(steps))-1]
	fmt.Printf("sidecar run %d: %s\n", fi.Size(), step)

	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	switch step {
	case "ready":
		ready()
		<-term
		return 0
	case "ready+crash":
		ready()
		crash, _ := os.ReadFile(filepath.Join(c.Dir, "crash")) // a FIFO: returns once the test writes
		fmt.Fprintf(os.Stderr, "crashing: %s", crash)
		return 1
	case "fail":
		for i := 1; i <= 30; i++ {
			fmt.Fprintf(os.Stderr, "line %d\n", i)
		}
		fmt.Fprint(os.Stderr, `pq: extension "vector" is not available`) // no newline: the tail keeps it
		return 1
	case "never":
		<-term
		return 0
	}
	return 2
}

func ready() {
	f, err := os.OpenFile(os.Getenv("READY_FIFO"), os.O_WRONLY, 0)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ready:", err)
		os.Exit(2)
	}
	f.WriteString("READY\n")
	f.Close()
}

// runMain reports what it got from the sidecar's exports, then runs until SIGTERM.
func runMain() int {
	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM)
	url, set := os.LookupEnv("MEMORY_PLUGIN_URL")
	fmt.Printf("main MEMORY_PLUGIN_URL=%s set=%v\n", url, set)
	<-term
	fmt.Println("main stopping")
	return 0
}
