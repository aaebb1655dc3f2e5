package preflight

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/agentplatform/tenant-init/supervisor"
)

// checkSidecarBinary tells whether the sidecar binary exists and is executable
// by the user the sidecar will run as.
func checkSidecarBinary(path string, id supervisor.Credentials) Result {
	if err := executableBy(path, id); err != nil {
		return fail(CheckSidecarBinary,
			"set MEMORY_PLUGIN_BIN to the memory-plugin binary, or make it executable by "+id.String(),
			"%v", err)
	}
	return pass(CheckSidecarBinary, "%s is executable by %s", path, id)
}

// checkCommand resolves the main command the way the boot will (PATH when the
// name has no slash) and tells whether that user may execute it.
func checkCommand(name, pathEnv string, id supervisor.Credentials) Result {
	path, err := lookPath(name, pathEnv, id)
	if err != nil {
		return fail(CheckCommand, "install the main service in the image, or fix its path (the boot would exit 127 or 126)", "%v", err)
	}
	return pass(CheckCommand, "%s resolves to %s, executable by %s", name, path, id)
}

func lookPath(name, pathEnv string, id supervisor.Credentials) (string, error) {
	if strings.Contains(name, "/") {
		return name, executableBy(name, id)
	}
	var firstErr error
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		err := executableBy(p, id)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", firstErr
	}
	return "", fmt.Errorf("%s: not found in PATH %q", name, pathEnv)
}

// executableBy applies the kernel's permission rules for id to path: search
// permission on every directory above it, and execute permission on the file.
func executableBy(path string, id supervisor.Credentials) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	for dir := filepath.Dir(abs); ; dir = filepath.Dir(dir) {
		info, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if !permitted(info, id, 1) {
			return fmt.Errorf("%s: directory %s is not searchable by %s", path, dir, id)
		}
		if dir == "/" {
			break
		}
	}
	info, err := os.Stat(abs)
	if err != nil {
		return err // a *fs.PathError naming the file: "stat /x: no such file or directory"
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", path, info.Mode().Type())
	}
	if !permitted(info, id, 1) {
		return fmt.Errorf("%s is not executable by %s (mode %s)", path, id, info.Mode().Perm())
	}
	return nil
}

// permitted applies owner/group/other permission bits (bit: 1 execute or
// search, 4 read) the way the kernel does, root included: root may execute a
// file only when some execute bit is set.
func permitted(info fs.FileInfo, id supervisor.Credentials, bit fs.FileMode) bool {
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	mode := info.Mode().Perm()
	if id.UID == 0 {
		return !info.Mode().IsRegular() || mode&(bit|bit<<3|bit<<6) != 0
	}
	switch {
	case int(st.Uid) == id.UID:
		return mode&(bit<<6) != 0
	case int(st.Gid) == id.GID || slices.Contains(id.Groups, int(st.Gid)):
		return mode&(bit<<3) != 0
	default:
		return mode&bit != 0
	}
}
