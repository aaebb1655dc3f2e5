package main

import (
	"strings"
	"testing"

	"github.com/agentplatform/tenant-init/preflight"
)

// The pages under docs/ are what operators read; these tests keep them from
// losing a flag, a variable, a check or an exit status the code has, as the
// --help tests do for --help.

func TestTheTenantInitPageDocumentsEveryFlagVariableAndExitStatus(t *testing.T) {
	page := readFile(t, "../../docs/tenant-init.md")
	for _, st := range settings {
		row := "| `--" + st.flag + "`"
		if !strings.Contains(page, row) || !strings.Contains(page, "`"+st.env+"`") {
			t.Errorf("docs/tenant-init.md has no row for --%s / %s", st.flag, st.env)
		}
	}
	for _, name := range cutoverVariables {
		if !strings.Contains(page, "| `"+name+"` |") {
			t.Errorf("docs/tenant-init.md has no row for %s", name)
		}
	}
	for _, status := range []string{"128+n", "126", "127", "64", "69", "71", "77", "78"} {
		if !strings.Contains(page, "| "+status+" |") {
			t.Errorf("docs/tenant-init.md does not document exit status %s", status)
		}
	}
}

func TestTheCheckPageDocumentsEveryCheckAndExitStatus(t *testing.T) {
	page := readFile(t, "../../docs/check.md")
	ids := []string{preflight.CheckEnv, preflight.CheckUser, preflight.CheckSidecarBinary, preflight.CheckCommand,
		preflight.CheckDatabase, preflight.CheckPgvector, preflight.CheckListen, preflight.CheckExternalPlugin}
	for _, id := range ids {
		if !strings.Contains(page, "| `"+id+"` |") {
			t.Errorf("docs/check.md has no row for the %s check", id)
		}
		if !strings.Contains(checkHelp, "  "+id+" ") {
			t.Errorf("check --help does not list the %s check", id)
		}
	}
	for _, status := range []string{"0", "1", "64", "78"} {
		if !strings.Contains(page, "| "+status+" |") {
			t.Errorf("docs/check.md does not document exit status %s", status)
		}
	}
}
