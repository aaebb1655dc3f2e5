package supervisor

import (
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// ignoredAtStart says which signals whoever started the init left ignored
// (`trap ” HUP INT; exec tenant-init ...`, nohup), as far as can still be
// known: Go's runtime installs its own handler for most signals before any of
// the init's code runs, and keeps an inherited SIG_IGN only for SIGHUP and
// SIGINT (which signal.Ignored reports) and for the job-control signals
// SIGCONT, SIGTSTP, SIGTTIN and SIGTTOU (which it leaves alone until asked, so
// the kernel's SigIgn still shows them). An inherited SIG_IGN of any other
// signal, SIGQUIT included, is overwritten unseen.
func ignoredAtStart() map[syscall.Signal]bool {
	ignored := map[syscall.Signal]bool{}
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGINT} {
		if signal.Ignored(sig) {
			ignored[sig] = true
		}
	}
	mask := kernelIgnored()
	for _, sig := range []syscall.Signal{syscall.SIGCONT, syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU} {
		if mask&(1<<(sig-1)) != 0 {
			ignored[sig] = true
		}
	}
	return ignored
}

// kernelIgnored is the SigIgn mask of /proc/self/status, or 0 without /proc:
// then only SIGHUP and SIGINT are known.
func kernelIgnored() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigIgn:"); ok {
			mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return mask
		}
	}
	return 0
}
