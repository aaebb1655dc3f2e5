package main

import (
	"time"

	"github.com/agentplatform/tenant-init/cutover"
	"github.com/agentplatform/tenant-init/envvar"
	"github.com/agentplatform/tenant-init/logging"
	"github.com/agentplatform/tenant-init/supervisor"
)

// Config is tenant-init's configuration: flags and their environment twins, a
// flag beating its variable. Subcommands that need the same settings bind them
// with bindFlags and read them with Load.
//
// The flags come to Load as flagValues, whichever parsed them: cobra's pflag in
// tenant-init-tools (cli.go), the init's own parser in the pid1 build
// (cli_pid1.go).
type Config struct {
	User      supervisor.User
	Grace     time.Duration
	LogFormat string // json or console
	LogLevel  logging.Level
	AllowRoot bool
	Services  []supervisor.Service // beside COMMAND
	// Memory is what the boot does about the memory plugin, from the cutover
	// variables (package cutover, the one reader of them).
	Memory cutover.Plan
}

// A setting is one flag and its environment twin; --help and Load read the same.
type setting struct {
	flag, env string
	kind      string // the value's name in --help
	usage     string
	def       string // the default shown in --help
}

var (
	userSetting = setting{flag: "user", env: "TENANT_INIT_USER", kind: "user",
		usage: "run the services as NAME, UID or UID:GID; when started as root, privileges are dropped to it first"}
	graceSetting = setting{flag: "grace", env: "TENANT_INIT_GRACE", kind: "duration", def: supervisor.DefaultGrace.String(),
		usage: "how long each shutdown phase waits after SIGTERM before SIGKILL (a Go duration)"}
	logFormatSetting = setting{flag: "log-format", env: "TENANT_INIT_LOG_FORMAT", kind: "format",
		usage: "json or console (default json, console when stderr is a terminal)"}
	logLevelSetting = setting{flag: "log-level", env: "TENANT_INIT_LOG_LEVEL", kind: "level",
		usage: "debug, info, warn or error (default info; warn when stderr is a terminal, keeping the lifecycle lines out of an interactive program's screen)"}
	allowRootSetting = setting{flag: "allow-root", env: "TENANT_INIT_ALLOW_ROOT", kind: "bool",
		usage: "allow the services to run as root (true, false, 1 or 0)"}
	servicesSetting = setting{flag: "service", env: "TENANT_INIT_SERVICES", kind: "decl",
		usage: "run another service beside COMMAND, declared as " + serviceForm + "; repeatable (the variable separates declarations with ;)"}
	settings = []setting{userSetting, graceSetting, logFormatSetting, logLevelSetting, allowRootSetting, servicesSetting}
)

// flagValues are the settings given as flags, by flag name (no dashes), each
// with its values in command-line order: several for a repeated --service;
// for any other flag the last one counts, as with pflag.
type flagValues map[string][]string

// Load reads the settings from the flags given, else from env. A bad flag value
// is a usageError (exit 64), a bad variable an *envvar.Error (exit 78).
func Load(given flagValues, env envvar.Lookup, stderrIsTerminal bool) (Config, error) {
	var c Config
	var err error

	src := sourceOf(given, env, userSetting)
	if spec := src.String(src.name, ""); spec != "" {
		if c.User, err = supervisor.ParseUser(spec); err != nil {
			return c, src.fail(&envvar.Error{Name: src.name, Value: spec, Reason: err.Error(), Accepted: supervisor.UserForms})
		}
	}

	src = sourceOf(given, env, graceSetting)
	if c.Grace, err = src.Duration(src.name, supervisor.DefaultGrace); err != nil {
		return c, src.fail(err)
	}

	defaultFormat := "json"
	if stderrIsTerminal {
		defaultFormat = "console"
	}
	src = sourceOf(given, env, logFormatSetting)
	if c.LogFormat, err = src.OneOf(src.name, defaultFormat, "json", "console"); err != nil {
		return c, src.fail(err)
	}

	// On a terminal the init's lines would land in the main service's screen
	// (docker run -it): only warnings and errors are shown there by default.
	defaultLevel := "info"
	if stderrIsTerminal {
		defaultLevel = "warn"
	}
	src = sourceOf(given, env, logLevelSetting)
	level, err := src.OneOf(src.name, defaultLevel, "debug", "info", "warn", "error")
	if err != nil {
		return c, src.fail(err)
	}
	c.LogLevel, _ = logging.ParseLevel(level)

	src = sourceOf(given, env, allowRootSetting)
	if c.AllowRoot, err = src.Bool(src.name, false); err != nil {
		return c, src.fail(err)
	}

	if c.Services, err = loadServices(given, env); err != nil {
		return c, err
	}
	c.Memory, err = cutover.Read(env)
	return c, err
}

// loadServices reads the declarations of --service, one per flag, else those of
// TENANT_INIT_SERVICES, separated by ";".
func loadServices(given flagValues, env envvar.Lookup) ([]supervisor.Service, error) {
	var svcs []supervisor.Service
	names := map[string]bool{}
	add := func(name, text string, one bool) error {
		parsed, err := parseServices(text, one)
		for _, svc := range parsed {
			if err == nil && names[svc.Name] {
				err = serviceError{"two services are named " + svc.Name}
			}
			names[svc.Name] = true
		}
		if err != nil {
			return &envvar.Error{Name: name, Value: text, Reason: err.Error(), Accepted: serviceForm}
		}
		svcs = append(svcs, parsed...)
		return nil
	}
	if texts, ok := given[servicesSetting.flag]; ok {
		for _, text := range texts {
			if err := add("--"+servicesSetting.flag, text, true); err != nil {
				return nil, usageError{err}
			}
		}
		return svcs, nil
	}
	if text := env.String(servicesSetting.env, ""); text != "" {
		return svcs, add(servicesSetting.env, text, false)
	}
	return nil, nil
}

// source is where a setting's value comes from: its flag when given, else its
// variable. Both go through package envvar, so the accepted forms and the words
// are the same; only the exit status differs.
type source struct {
	envvar.Lookup
	name string // --flag or VARIABLE
	flag bool
}

func sourceOf(given flagValues, env envvar.Lookup, st setting) source {
	if values := given[st.flag]; len(values) > 0 {
		name := "--" + st.flag
		return source{Lookup: envvar.Map(map[string]string{name: values[len(values)-1]}), name: name, flag: true}
	}
	return source{Lookup: env, name: st.env}
}

// fail marks err as a usage error when the value came from a flag.
func (s source) fail(err error) error {
	if s.flag {
		return usageError{err}
	}
	return err
}

// usageError is bad command-line input: exit 64.
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }
