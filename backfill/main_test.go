package backfill

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Run(m)
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// result is what one Main call printed and returned.
type result struct {
	code           int
	stdout, stderr string
}

func runMain(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, envvar.Map(env), &out, &errOut)
	return result{code, out.String(), errOut.String()}
}

func TestUsageErrors(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "postgres://nobody@127.0.0.1:1/none"}
	const modes = "memory-backfill: exactly one of -dry-run, -apply, -verify is required"
	tests := []struct {
		name string
		args []string
		want string // the whole stderr
	}{
		{"no mode is refused", nil, modes + " (see -help)\n"},
		{"a value without a mode is refused", []string{"-json"}, modes + " (see -help)\n"},
		{"two modes are refused, naming both", []string{"-dry-run", "--apply"}, modes + ", got -dry-run and -apply (see -help)\n"},
		{"three modes are refused, naming all", []string{"-verify", "-apply", "-dry-run"}, modes + ", got -dry-run and -apply and -verify (see -help)\n"},
		{"an unknown flag is refused", []string{"-apply", "-force"}, "memory-backfill: flag provided but not defined: -force (see -help)\n"},
		{"a positional argument is refused", []string{"-apply", "now"}, `memory-backfill: unexpected argument "now": modes and values are flags (-apply, -workspace UUID) (see -help)` + "\n"},
		{"a mode given as a word is refused", []string{"apply"}, `memory-backfill: unexpected argument "apply": modes and values are flags (-apply, -workspace UUID) (see -help)` + "\n"},
		{"a workspace that is not a UUID is refused", []string{"-apply", "-workspace", "ws-1"}, `memory-backfill: invalid value "ws-1" for flag -workspace: not a UUID; accepted: a workspace id such as 0b6f3c1e-5d2a-4c8e-9f1b-3a7d2e4c5b6a (see -help)` + "\n"},
		{"-workspace without a value is refused", []string{"-apply", "-workspace"}, "memory-backfill: flag needs an argument: -workspace (see -help)\n"},
		{"a batch size of 0 is refused", []string{"-apply", "-batch-size", "0"}, `memory-backfill: invalid value "0" for flag -batch-size: accepted: a whole number from 1 to 500 (see -help)` + "\n"},
		{"a batch size over the plugin's limit is refused", []string{"-apply", "--batch-size=501"}, `memory-backfill: invalid value "501" for flag -batch-size: accepted: a whole number from 1 to 500 (see -help)` + "\n"},
		{"a batch size that is not a number is refused", []string{"-apply", "-batch-size", "lots"}, `memory-backfill: invalid value "lots" for flag -batch-size: accepted: a whole number from 1 to 500 (see -help)` + "\n"},
		{"a concurrency of 0 is refused", []string{"-verify", "-concurrency", "0"}, `memory-backfill: invalid value "0" for flag -concurrency: accepted: a whole number from 1 to 32 (see -help)` + "\n"},
		{"a concurrency over 32 is refused", []string{"-verify", "-concurrency=33"}, `memory-backfill: invalid value "33" for flag -concurrency: accepted: a whole number from 1 to 32 (see -help)` + "\n"},
		{"a limit of 0 is refused", []string{"-apply", "-limit", "0"}, `memory-backfill: invalid value "0" for flag -limit: accepted: a whole number of rows, 1 or more (see -help)` + "\n"},
		{"a negative limit is refused", []string{"-apply", "--limit=-5"}, `memory-backfill: invalid value "-5" for flag -limit: accepted: a whole number of rows, 1 or more (see -help)` + "\n"},
		{"a limit that is not a number is refused", []string{"-apply", "-limit", "all"}, `memory-backfill: invalid value "all" for flag -limit: accepted: a whole number of rows, 1 or more (see -help)` + "\n"},
		{"a limit with a unit is refused", []string{"-apply", "--limit", "10k"}, `memory-backfill: invalid value "10k" for flag -limit: accepted: a whole number of rows, 1 or more (see -help)` + "\n"},
		{"-limit without a value is refused", []string{"-apply", "-limit"}, "memory-backfill: flag needs an argument: -limit (see -help)\n"},
		{"a verify sample of 0 is refused", []string{"-verify", "-verify-sample", "0"}, `memory-backfill: invalid value "0" for flag -verify-sample: accepted: a whole number of workspaces, 1 or more (see -help)` + "\n"},
		{"a verify sample that is not a number is refused", []string{"-verify-sample=ten"}, `memory-backfill: invalid value "ten" for flag -verify-sample: accepted: a whole number of workspaces, 1 or more (see -help)` + "\n"},
		{"a verify sample in percent is refused", []string{"--verify-sample", "10%"}, `memory-backfill: invalid value "10%" for flag -verify-sample: accepted: a whole number of workspaces, 1 or more (see -help)` + "\n"},
		{"-verify-sample without a value is refused", []string{"-verify", "-verify-sample"}, "memory-backfill: flag needs an argument: -verify-sample (see -help)\n"},
		{"a verify sample with -apply is refused", []string{"-apply", "-verify-sample", "3"}, "memory-backfill: -verify-sample goes with -verify only, got -apply; accepted: -verify -verify-sample N, or -verify-sample N alone (see -help)\n"},
		{"a verify sample with -workspace is refused", []string{"-verify-sample", "3", "-workspace", "0b6f3c1e-5d2a-4c8e-9f1b-3a7d2e4c5b6a"}, "memory-backfill: -verify-sample and -workspace exclude each other; accepted: -verify -workspace UUID, or -verify -verify-sample N (see -help)\n"},
		{"a mode flag with a non-boolean value is refused", []string{"-apply=yes"}, `memory-backfill: invalid boolean value "yes" for -apply: parse error (see -help)` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runMain(t, env, tt.args...)
			if got.code != ExitUsage || got.stderr != tt.want || got.stdout != "" {
				t.Fatalf("exit %d, stderr %q, stdout %q; want exit 64, stderr %q", got.code, got.stderr, got.stdout, tt.want)
			}
		})
	}
}

func TestHelpPrintsUsageAndExitsZero(t *testing.T) {
	for _, arg := range []string{"-h", "-help", "--help"} {
		got := runMain(t, nil, arg)
		if got.code != ExitOK || got.stderr != "" || !strings.HasPrefix(got.stdout, "Usage: memory-backfill") {
			t.Fatalf("%s: exit %d, stdout %q, stderr %q", arg, got.code, got.stdout, got.stderr)
		}
		for _, name := range []string{"-dry-run", "-apply", "-verify", "-workspace", "-limit", "-verify-sample", "-batch-size", "-concurrency", "-json",
			"DATABASE_URL", "MEMORY_PLUGIN_URL", "MEMORY_PLUGIN_TOKEN", "MEMORY_BACKFILL_PROGRESS_INTERVAL", "64", "69", "78"} {
			if !strings.Contains(got.stdout, name) {
				t.Fatalf("%s: the help does not document %s", arg, name)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	const db = "postgres://nobody@127.0.0.1:1/none"
	tests := []struct {
		name string
		env  map[string]string
		want string // the whole stderr
	}{
		{"a missing DATABASE_URL is refused", map[string]string{},
			`memory-backfill: DATABASE_URL is not set: it names the platform database holding the v1 tables; accepted: a PostgreSQL URL such as postgres://user:password@host:5432/platform` + "\n"},
		{"a DATABASE_URL that does not parse is refused without echoing it", map[string]string{"DATABASE_URL": "postgres://u:secret@host:notaport/db"},
			"secret"},
		{"a plugin URL without a scheme is refused", map[string]string{"DATABASE_URL": db, "MEMORY_PLUGIN_URL": "127.0.0.1:9100"},
			`memory-backfill: MEMORY_PLUGIN_URL="127.0.0.1:9100" is invalid; accepted: an http:// or https:// URL without credentials or query, such as http://127.0.0.1:9100` + "\n"},
		{"a plugin URL with another scheme is refused", map[string]string{"DATABASE_URL": db, "MEMORY_PLUGIN_URL": "unix:///run/plugin.sock"},
			`memory-backfill: MEMORY_PLUGIN_URL="unix:///run/plugin.sock" is invalid; accepted: an http:// or https:// URL without credentials or query, such as http://127.0.0.1:9100` + "\n"},
		{"a token with a space is refused without echoing it", map[string]string{"DATABASE_URL": db, "MEMORY_PLUGIN_TOKEN": "top secret"},
			`memory-backfill: MEMORY_PLUGIN_TOKEN="(redacted)" is invalid: contains a space, control or non-ASCII character; accepted: printable ASCII characters without spaces` + "\n"},
		{"a progress interval without a unit is refused", map[string]string{"DATABASE_URL": db, "MEMORY_BACKFILL_PROGRESS_INTERVAL": "5"},
			`memory-backfill: MEMORY_BACKFILL_PROGRESS_INTERVAL="5" is invalid; accepted: a Go duration such as 500ms, 30s or 1m30s` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runMain(t, tt.env, "-dry-run")
			if got.code != ExitConfig {
				t.Fatalf("exit %d, stderr %q; want exit 78", got.code, got.stderr)
			}
			if tt.want == "secret" {
				if strings.Contains(got.stderr, "secret") || !strings.Contains(got.stderr, `DATABASE_URL="(redacted)" is invalid`) {
					t.Fatalf("stderr %q: want DATABASE_URL named and its password not echoed", got.stderr)
				}
				return
			}
			if got.stderr != tt.want {
				t.Fatalf("stderr %q\nwant   %q", got.stderr, tt.want)
			}
		})
	}
}

func TestTheBackfillPageDocumentsEveryFlagVariableAndExitStatus(t *testing.T) {
	page, err := os.ReadFile("../docs/memory-backfill.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"-dry-run", "-apply", "-verify", "-workspace", "-limit", "-verify-sample", "-batch-size", "-concurrency", "-json",
		"DATABASE_URL", "MEMORY_PLUGIN_URL", "MEMORY_PLUGIN_TOKEN", "MEMORY_BACKFILL_PROGRESS_INTERVAL"} {
		if !strings.Contains(string(page), "| `"+name) {
			t.Errorf("docs/memory-backfill.md has no row for %s", name)
		}
	}
	for _, code := range []int{ExitOK, ExitFailed, ExitUsage, ExitUnavailable, ExitConfig} {
		if !strings.Contains(string(page), fmt.Sprintf("| %d |", code)) {
			t.Errorf("docs/memory-backfill.md does not document exit status %d", code)
		}
	}
}
