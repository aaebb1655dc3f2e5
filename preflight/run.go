package preflight

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/agentplatform/tenant-init/cutover"
	"github.com/agentplatform/tenant-init/envvar"
)

// Config is what one preflight run looks at.
type Config struct {
	// Env is the environment the boot would read; the cutover plan comes from
	// it through cutover.Read, the same function the boot calls.
	Env envvar.Lookup
	// User tells who the services would run as after the privilege drop, a
	// one-line description of the drop, and an error when the boot would
	// refuse or fail to drop (exit 77). It is the supervisor's answer, passed
	// in by the command so preflight never re-implements the drop's rules.
	User func() (Identity, string, error)
	// Command is the main command given after --, if any.
	Command []string
	// Timeout bounds each check that talks to the network.
	Timeout time.Duration
}

// Run runs every check that applies to the environment and changes nothing.
// The error is the *envvar.Error when the environment itself is invalid (the
// report then says so in the env check, and the command exits 78).
func Run(ctx context.Context, cfg Config) (Report, error) {
	plan, envErr := cutover.Read(cfg.Env)
	if envErr != nil {
		var bad *envvar.Error
		hint := "fix the variable named above; the boot would exit 78 with the same message"
		if !errors.As(envErr, &bad) {
			hint = ""
		}
		results := []Result{fail(CheckEnv, hint, "%v", envErr)}
		for _, id := range []string{CheckUser, CheckSidecarBinary, CheckCommand, CheckDatabase, CheckPgvector, CheckListen, CheckExternalPlugin} {
			results = append(results, skip(id, "the environment is invalid"))
		}
		return newReport(results), envErr
	}

	results := []Result{pass(CheckEnv, "%s", plan.Describe())}
	id, userResult := checkUser(cfg.User)
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
		results = append(results, checkCommand(cfg.Command[0], cfg.Env.String("PATH", ""), id))
	}

	if !bundled {
		results = append(results,
			skip(CheckDatabase, "%s", noSidecar),
			skip(CheckPgvector, "%s", noSidecar),
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
	return newReport(results), nil
}

// checkSidecarDatabase runs the database check and, when it passed, the
// pgvector check on the same connection.
func checkSidecarDatabase(ctx context.Context, databaseURL string, timeout time.Duration) []Result {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	db, conn := checkDatabase(ctx, databaseURL)
	if conn == nil {
		return []Result{db, skip(CheckPgvector, "the database check failed")}
	}
	defer conn.Close(context.Background())
	return []Result{db, checkPgvector(ctx, conn)}
}

func checkUser(resolve func() (Identity, string, error)) (Identity, Result) {
	id, detail, err := resolve()
	if err != nil {
		return id, fail(CheckUser,
			"set TENANT_INIT_USER (or --user) to a user that exists in the image, as a name, uid or uid:gid; or TENANT_INIT_ALLOW_ROOT=1 to run the services as root on purpose",
			"%v (the boot would exit 77)", err)
	}
	return id, pass(CheckUser, "%s", detail)
}

func withTimeout(ctx context.Context, d time.Duration, check func(context.Context) Result) Result {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return check(ctx)
}
