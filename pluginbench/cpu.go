package pluginbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The CPU a server spends per operation, its own and its PostgreSQL's, is
// read from /proc around each throughput phase: on a machine of two cores
// the rates of both servers are set by how much CPU an operation costs, and
// the split says which side of the statement the cost is on.

// userHZ is the unit of /proc/<pid>/stat's times: USER_HZ, 100 on Linux
// whatever the kernel's tick (the ABI fixes it).
const userHZ = 100

// procTimes returns process pid's user+system CPU time and that of its
// reaped children (cutime+cstime), from /proc/<pid>/stat, and its parent's
// pid.
func procTimes(pid int) (own, reaped time.Duration, ppid int, err error) {
	path := fmt.Sprintf("/proc/%d/stat", pid)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields after it
	// start after the last ')'. They are state (3), ppid (4), ... utime (14),
	// stime (15), cutime (16), cstime (17).
	s := string(b)
	end := strings.LastIndexByte(s, ')')
	if end < 0 {
		return 0, 0, 0, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(s[end+1:])
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("%s: %d fields after the command name", path, len(f))
	}
	var ticks [5]int64
	for i, field := range []int{4, 14, 15, 16, 17} {
		if ticks[i], err = strconv.ParseInt(f[field-3], 10, 64); err != nil {
			return 0, 0, 0, fmt.Errorf("%s: field %d: %w", path, field, err)
		}
	}
	tick := time.Second / userHZ
	return time.Duration(ticks[1]+ticks[2]) * tick, time.Duration(ticks[3]+ticks[4]) * tick, int(ticks[0]), nil
}

// processCPU is process pid's CPU time (all its threads).
func processCPU(pid int) (time.Duration, error) {
	own, _, _, err := procTimes(pid)
	return own, err
}

// clusterCPU is the CPU time of a PostgreSQL cluster: its postmaster's, its
// live children's (backends, autovacuum, checkpointer, ...), and that of the
// children it has reaped (a backend that exited is counted there).
func clusterCPU(postmaster int) (time.Duration, error) {
	own, reaped, _, err := procTimes(postmaster)
	if err != nil {
		return 0, err
	}
	total := own + reaped
	dirs, err := filepath.Glob("/proc/[0-9]*")
	if err != nil {
		return 0, err
	}
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil || pid == postmaster {
			continue
		}
		cpu, _, ppid, err := procTimes(pid)
		if err != nil || ppid != postmaster {
			continue // gone since the listing, or not the cluster's
		}
		total += cpu
	}
	return total, nil
}

// CPUSplit is CPU time spent by a server's process and by its PostgreSQL.
type CPUSplit struct{ Server, Postgres time.Duration }

// Total is both together.
func (a CPUSplit) Total() time.Duration { return a.Server + a.Postgres }

func (a CPUSplit) sub(b CPUSplit) CPUSplit {
	return CPUSplit{a.Server - b.Server, a.Postgres - b.Postgres}
}
func (a CPUSplit) add(b CPUSplit) CPUSplit {
	return CPUSplit{a.Server + b.Server, a.Postgres + b.Postgres}
}

// per returns the split per operation, for n operations.
func (a CPUSplit) per(n int64) CPUSplit {
	if n == 0 {
		return CPUSplit{}
	}
	return CPUSplit{a.Server / time.Duration(n), a.Postgres / time.Duration(n)}
}
