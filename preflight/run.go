package preflight

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/agentplatform/tenant-init/cutover"
	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/supervisor"
)

// Config is what one preflight run looks at: the settings the boot would use,
// read by the boot's own functions (cutover.Read, tenant-init's Load), never
// parsed again here.
type Config struct {
	// Memory is the cutover plan.
	Memory cutover.Plan
	// User and AllowRoot are the boot's settings (--user, --allow-root and
	// their variables); the user check asks supervisor.PlanDrop, the function
	// the boot calls, what the privilege drop would do with them.
	User      supervisor.User
	AllowRoot bool
	// Command is the main command given after --, if any, looked up in PATH.
	Command []string
	PATH    string
	// Timeout bounds each check that talks to the network.
	Timeout time.Duration
}

var allChecks = []string{CheckEnv, CheckUser, CheckSidecarBinary, CheckCommand, CheckDatabase, CheckPgvector, CheckDatabaseSettings, CheckListen, CheckExternalPlugin}

// InvalidEnvironment is the report for an environment the boot would reject
// with err (exit 78): the env check fails with err's message, the others are
// skipped because nothing can be known about them.
func InvalidEnvironment(err error) Report {
	hint := ""
	if errors.As(err, new(*envvar.Error)) {
		hint = "fix the variable named above; the boot would exit 78 with the same message"
	}
	results := []Result{fail(CheckEnv, hint, "%v", err)}
	for _, id := range allChecks[1:] {
		results = append(results, skip(id, "the environment is invalid"))
	}
	return newReport(results)
}

// Run runs every check that applies to cfg and changes nothing.
func Run(ctx context.Context, cfg Config) Report {
	plan := cfg.Memory
	results := []Result{pass(CheckEnv, "%s", plan.Describe())}
	id, userResult := checkUser(cfg.User, cfg.AllowRoot)
	results = append(results, userResult)
	bundled := plan.Mode == cutover.ModeBundled
	noSidecar := fmt.Sprintf("no sidecar would start (memory plugin mode %s)", plan.Mode)

	switch {
	case !bundled:
		results = append(results, skip(CheckSidecarBinary, "%s", noSidecar))
	case userResult.Status == Fail:
		results = append(results, skip(CheckSidecarBinary, "the user check failed"))
	default:
		results = append(results, checkSidecarBinary(plan.Bin, id))
	}

	switch {
	case len(cfg.Command) == 0:
		results = append(results, skip(CheckCommand, "no main command given (tenant-init check -- COMMAND [ARGS...] checks one)"))
	case userResult.Status == Fail:
		results = append(results, skip(CheckCommand, "the user check failed"))
	default:
		results = append(results, checkCommand(cfg.Command[0], cfg.PATH, id))
	}

	if !bundled {
		results = append(results,
			skip(CheckDatabase, "%s", noSidecar),
			skip(CheckPgvector, "%s", noSidecar),
			skip(CheckDatabaseSettings, "%s", noSidecar),
			skip(CheckListen, "%s", noSidecar))
	} else {
		results = append(results, checkSidecarDatabase(ctx, plan.DatabaseURL, cfg.Timeout)...)
		results = append(results, withTimeout(ctx, cfg.Timeout, func(ctx context.Context) Result {
			return checkListen(ctx, plan.ListenAddr, plan.ProbeURL)
		}))
	}

	if plan.Mode == cutover.ModeExternal {
		results = append(results, withTimeout(ctx, cfg.Timeout, func(ctx context.Context) Result {
			return checkExternalPlugin(ctx, plan.PluginURL)
		}))
	} else {
		results = append(results, skip(CheckExternalPlugin, "MEMORY_PLUGIN_URL does not name an external plugin"))
	}
	return newReport(results)
}

// checkSidecarDatabase runs the database check and, when it passed, the
// pgvector and settings checks on the same connection.
func checkSidecarDatabase(ctx context.Context, databaseURL string, timeout time.Duration) []Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	db, conn := checkDatabase(ctx, databaseURL)
	if conn == nil {
		return []Result{db, skip(CheckPgvector, "the database check failed"), skip(CheckDatabaseSettings, "the database check failed")}
	}
	defer conn.Close(context.Background())
	return []Result{db, checkPgvector(ctx, conn), checkDatabaseSettings(ctx, conn)}
}

func checkUser(u supervisor.User, allowRoot bool) (supervisor.Credentials, Result) {
	d, err := supervisor.PlanDrop(u, allowRoot, os.Geteuid())
	var refused *supervisor.DropError
	if errors.As(err, &refused) {
		return d.Creds, fail(CheckUser, refused.Hint, "%v (the boot would exit 77)", err)
	}
	if d.Switch {
		return d.Creds, pass(CheckUser, "user %s resolves to %s; the boot would drop root's privileges to it", u, d.Creds)
	}
	return d.Creds, pass(CheckUser, "%s (%s)", d.Note, d.Creds)
}

func withTimeout(ctx context.Context, d time.Duration, check func(context.Context) Result) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return check(ctx)
}
