package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"

	"github.com/agentplatform/tenant-init/internal/inittest"
)

// runCLI runs tenant-init to completion, outside any namespace: these cases
// end before supervision begins, or are about the command line only.
func runCLI(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(tenantInit, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return cmd.ProcessState.ExitCode(), out.String(), errOut.String()
}

func TestBadInputGetsOneLineAndItsExitStatus(t *testing.T) {
	cutover := []string{"MEMORY_V2_CUTOVER=true", "DATABASE_URL=" + testDatabase, "MEMORY_PLUGIN_BIN=" + sidecarBin}
	mainRan := []string{"--allow-root", "sh", "-c", "echo main ran"}
	tests := []struct {
		name string
		env  []string
		args []string
		want int
		line string // the one line on stderr contains this
	}{
		{name: "an unknown flag is a usage error", args: []string{"--bogus", "true"},
			want: 64, line: "tenant-init: unknown flag: --bogus; see tenant-init --help"},
		{name: "no COMMAND is a usage error", args: nil,
			want: 64, line: "tenant-init: missing COMMAND; usage: tenant-init [flags] [--] COMMAND [ARGS...]"},
		{name: "an unparsable --grace is a usage error naming the accepted forms", args: []string{"--grace", "soon", "true"},
			want: 64, line: `--grace="soon" is invalid; accepted: a Go duration such as 500ms, 30s or 1m30s`},
		{name: "a negative --grace is a usage error", args: []string{"--grace=-1s", "true"},
			want: 64, line: `--grace="-1s" is invalid: must be positive`},
		{name: "an unparsable TENANT_INIT_GRACE is a configuration error", env: []string{"TENANT_INIT_GRACE=soon"}, args: []string{"true"},
			want: 78, line: `TENANT_INIT_GRACE="soon" is invalid; accepted: a Go duration`},
		{name: "--allow-root=maybe is a usage error", args: []string{"--allow-root=maybe", "true"},
			want: 64, line: `--allow-root="maybe" is invalid; accepted: true, false, 1 or 0`},
		{name: "TENANT_INIT_ALLOW_ROOT=yes is a configuration error, never a silent false", env: []string{"TENANT_INIT_ALLOW_ROOT=yes"}, args: []string{"true"},
			want: 78, line: `TENANT_INIT_ALLOW_ROOT="yes" is invalid; accepted: true, false, 1 or 0`},
		{name: "an unparsable --user is a usage error", args: []string{"--user", "1000:staff", "true"},
			want: 64, line: `--user="1000:staff" is invalid: uid:gid must be two numbers; accepted: a user name, a uid, or uid:gid`},
		{name: "an unparsable TENANT_INIT_USER is a configuration error", env: []string{"TENANT_INIT_USER=app user"}, args: []string{"true"},
			want: 78, line: `TENANT_INIT_USER="app user" is invalid: not a user name or a number`},
		{name: "an unknown --log-format is a usage error", args: []string{"--log-format", "xml", "true"},
			want: 64, line: `--log-format="xml" is invalid; accepted: json or console`},
		{name: "an unknown TENANT_INIT_LOG_FORMAT is a configuration error", env: []string{"TENANT_INIT_LOG_FORMAT=xml"}, args: []string{"true"},
			want: 78, line: `TENANT_INIT_LOG_FORMAT="xml" is invalid; accepted: json or console`},
		{name: "an unknown --log-level is a usage error", args: []string{"--log-level", "verbose", "true"},
			want: 64, line: `--log-level="verbose" is invalid; accepted: debug, info, warn or error`},
		{name: "an unknown TENANT_INIT_LOG_LEVEL is a configuration error", env: []string{"TENANT_INIT_LOG_LEVEL=verbose"}, args: []string{"true"},
			want: 78, line: `TENANT_INIT_LOG_LEVEL="verbose" is invalid; accepted: debug, info, warn or error`},
		{name: "a --service without cmd is a usage error showing the form", args: []string{"--service", "name=web", "true"},
			want: 64, line: `--service="name=web" is invalid: missing cmd=COMMAND; accepted: name=NAME[,dir=DIR],cmd=COMMAND [ARGS...]`},
		{name: "two declarations in one --service are a usage error", args: []string{"--service", "name=a,cmd=x; name=b,cmd=y", "true"},
			want: 64, line: "one declaration per --service; repeat the flag"},
		{name: "two services of one name are a usage error", args: []string{"--service", "name=a,cmd=x", "--service", "name=a,cmd=y", "true"},
			want: 64, line: "two services are named a"},
		{name: "a malformed TENANT_INIT_SERVICES is a configuration error", env: []string{`TENANT_INIT_SERVICES=name=web,cmd=node "server.js`}, args: []string{"true"},
			want: 78, line: `TENANT_INIT_SERVICES="name=web,cmd=node \"server.js" is invalid: unterminated " quote`},
		{name: "the version subcommand takes no argument", args: []string{"version", "now"},
			want: 64, line: `unknown command "now" for "tenant-init version"`},

		// The cutover variables (docs/tenant-init.md, "Memory v2 cutover"); COMMAND would
		// print, the sidecar too: stdout must stay empty.
		{name: "MEMORY_V2_CUTOVER=yes is a configuration error, never a silent false", env: []string{"MEMORY_V2_CUTOVER=yes"}, args: mainRan,
			want: 78, line: `MEMORY_V2_CUTOVER="yes" is invalid; accepted: true, false, 1 or 0`},
		{name: "a MEMORY_PLUGIN_LISTEN_ADDR without a port is a configuration error", env: append(cutover, "MEMORY_PLUGIN_LISTEN_ADDR=127.0.0.1"), args: mainRan,
			want: 78, line: `MEMORY_PLUGIN_LISTEN_ADDR="127.0.0.1" is invalid; accepted: host:port`},
		{name: "a MEMORY_PLUGIN_GATE_TIMEOUT without a unit is a configuration error", env: append(cutover, "MEMORY_PLUGIN_GATE_TIMEOUT=30"), args: mainRan,
			want: 78, line: `MEMORY_PLUGIN_GATE_TIMEOUT="30" is invalid; accepted: a Go duration`},
		{name: "cutover without any database URL is a configuration error naming MEMORY_PLUGIN_DATABASE_URL",
			env: []string{"MEMORY_V2_CUTOVER=true", "MEMORY_PLUGIN_BIN=" + sidecarBin}, args: mainRan,
			want: 78, line: "MEMORY_PLUGIN_DATABASE_URL is not set: the bundled memory-plugin sidecar needs a database"},
		{name: "a MEMORY_PLUGIN_RESTART_LIMIT of 0 is a configuration error", env: append(cutover, "MEMORY_PLUGIN_RESTART_LIMIT=0"), args: mainRan,
			want: 78, line: `MEMORY_PLUGIN_RESTART_LIMIT="0" is invalid: out of range; accepted: a whole number from 1 to 100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.want {
				t.Errorf("exit status %d, want %d", code, tt.want)
			}
			if stdout != "" {
				t.Errorf("something ran: stdout %q", stdout)
			}
			if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) != 1 || !strings.Contains(lines[0], tt.line) {
				t.Errorf("stderr:\n%s\nwant one line containing %q", stderr, tt.line)
			}
		})
	}
}

func TestAFlagBeatsItsVariable(t *testing.T) {
	in := start(t, inittest.Subreaper, inittest.Options{Env: []string{"TENANT_INIT_GRACE=soon", "TENANT_INIT_LOG_FORMAT=xml"}},
		"--grace", "3s", "--log-format", "json", "--allow-root", "true")
	if got := in.Wait(); got != 0 {
		t.Fatalf("tenant-init exited %d, want 0; stderr:\n%s", got, strings.Join(in.Stderr.All(), "\n"))
	}
	if down := in.AwaitLog("shutting down"); down["grace"] != "3s" {
		t.Fatalf("grace %v, want the flag's 3s", down["grace"])
	}
}

func TestServicesDeclaredInTheEnvironmentRun(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "one-is-up")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	services := fmt.Sprintf(`name=one,cmd=sh -c "echo one > %[1]s; exec sleep 60"; name=two,dir=/tmp,cmd=sh -c 'read up < %[1]s; pwd; exit 4'`, fifo)
	in := start(t, inittest.Subreaper, inittest.Options{Env: []string{"TENANT_INIT_SERVICES=" + services}}, "--allow-root", "sleep", "60")
	in.Stdout.AwaitContains(t, "/tmp") // two runs in its dir, once one is up
	if got := in.Wait(); got != 4 {
		t.Fatalf("tenant-init exited %d, want 4, the status of the service that ended the container", got)
	}
	if started := in.LogField("service started", "service"); strings.Join(started, ",") != "main,one,two" {
		t.Fatalf("services started: %v, want main,one,two in order", started)
	}
}

func TestLogsAreConsoleLinesWhenAsked(t *testing.T) {
	in := start(t, inittest.Subreaper, inittest.Options{}, "--log-format", "console", "--allow-root", "true")
	in.Wait()
	in.Stderr.Await(t, regexp.MustCompile(`^\S+\tINFO\tservice started\t\{"service": "main"`).MatchString)
}

func TestHelpDocumentsEveryFlagVariableAndExitStatus(t *testing.T) {
	code, stdout, _ := runCLI(t, nil, "--help")
	if code != 0 {
		t.Fatalf("--help exited %d", code)
	}
	for _, st := range settings {
		for _, name := range []string{"--" + st.flag, "$" + st.env} {
			if !strings.Contains(stdout, name) {
				t.Errorf("--help does not mention %s", name)
			}
		}
	}
	// Each status as an entry of the table, set off by two spaces on each side,
	// not any digits: 127 is also in 127.0.0.1, 69 in other text.
	for _, status := range []string{"126", "127", "64", "78", "69", "71", "77"} {
		if !strings.Contains(stdout, "  "+status+"  ") {
			t.Errorf("--help does not document exit status %s", status)
		}
	}
	if !strings.Contains(stdout, "128+n") {
		t.Errorf("--help does not document exit status 128+n")
	}
}

func TestVersionPrintsVersionCommitAndGo(t *testing.T) {
	code, stdout, _ := runCLI(t, nil, "version")
	if want := regexp.MustCompile(`^tenant-init test \(commit abc123, go1\.\d+`); code != 0 || !want.MatchString(stdout) {
		t.Fatalf("version: exit %d, %q; want %s", code, stdout, want)
	}
}

func TestACommandNamedLikeASubcommandRunsAfterDashDash(t *testing.T) {
	dir := t.TempDir()
	script := dir + "/version"
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexit 9\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	code, _, _ := runCLI(t, []string{"PATH=" + dir + ":" + os.Getenv("PATH")}, "--allow-root", "--", "version")
	if code != 9 {
		t.Fatalf("exit %d, want 9 from the COMMAND named version", code)
	}
}

func TestCommandNotFoundIs127AndNotExecutableIs126(t *testing.T) {
	notExecutable := t.TempDir() + "/script"
	if err := os.WriteFile(notExecutable, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		command string
		want    int
	}{
		{name: "a command not in PATH exits 127", command: "no-such-command", want: 127},
		{name: "a path that does not exist exits 127", command: "/no/such/file", want: 127},
		{name: "a file without execute permission exits 126", command: notExecutable, want: 126},
		{name: "a directory exits 126", command: "/tmp", want: 126},
	}
	forEachMode(t, func(t *testing.T, mode inittest.Mode) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				in := start(t, mode, inittest.Options{}, "--allow-root", tt.command)
				if got := in.Wait(); got != tt.want {
					t.Fatalf("tenant-init exited %d, want %d", got, tt.want)
				}
				in.AwaitLogContaining("main: cannot start")
			})
		}
	})
}

// The shipped tenant-init parses the boot's command line itself and leaves the
// rest to tenant-init-tools, whose cobra tree is the reference (cli_pid1.go):
// each command line must end the same in both, status, output and log.
func TestTheInitParsesItsCommandLineAsTheFullTreeDoes(t *testing.T) {
	full := filepath.Join(filepath.Dir(tenantInit), toolsBinary)
	// Only errors are logged, and their times and pids differ from run to run.
	env := append(os.Environ(), "TENANT_INIT_LOG_LEVEL=error")
	varying := regexp.MustCompile(`"(ts|pid|run_time)":("[^"]*"|\d+)`)
	for _, args := range [][]string{
		{}, {"version"}, {"version", "now"}, {"--allow-root", "version"}, {"help"}, {"help", "version"},
		{"-h"}, {"--help"}, {"--help=false", "echo"}, {"--allow-root", "--", "echo", "a", "--b"},
		{"--allow-root", "echo", "--help", "-h"}, {"--allow-root=true", "echo", "x"}, {"--allow-root", "false"},
		{"--allow-root"}, {"--grace", "5s", "--allow-root", "echo"}, {"--grace=5s", "--grace", "soon", "--allow-root", "echo"},
		{"--grace", "--allow-root", "echo"}, {"--grace"}, {"--bogus", "echo"}, {"-x", "echo"}, {"--=x", "echo"},
		{"---allow-root", "echo"}, {"--allow-root", "-"}, {"--allow-root", "", "x"}, {"--user"},
		{"--log-format=console", "--log-level", "error", "--allow-root", "echo", "console"},
		{"--service", "name=a,cmd=sleep 5", "--service=name=b,cmd=sh -c 'echo b; exit 3'", "--allow-root", "sleep", "5"},
		{"--service", "name=a,cmd=true", "--service", "name=a,cmd=true", "--allow-root", "echo"},
		{"--allow-root", "--", "version"}, {"--allow-root", "echo", "version"}, {"--grace", "version", "--allow-root", "echo"},
		{"--allow-root", "check", "--help"}, {"__complete", ""},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			var got [2]string
			for i, bin := range []string{tenantInit, full} {
				cmd := exec.Command(bin, args...)
				cmd.Env = env
				var out, errOut bytes.Buffer
				cmd.Stdout, cmd.Stderr = &out, &errOut
				cmd.Run()
				got[i] = fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", cmd.ProcessState.ExitCode(), out.String(),
					varying.ReplaceAllString(errOut.String(), `"$1":_`))
			}
			if got[0] != got[1] {
				t.Errorf("tenant-init %q:\n%s\n\nthe full tree:\n%s", args, got[0], got[1])
			}
		})
	}
}
