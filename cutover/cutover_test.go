package cutover

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/agentplatform/tenant-init/envvar"
)

const db = "postgres://app:s3cret@db:5432/tenant"

// bundled is the plan of the plainest opt-in, MEMORY_V2_CUTOVER=true with a
// platform database; cases change what they test.
func bundled(change func(*Plan)) Plan {
	p := Plan{
		Mode:         ModeBundled,
		ListenAddr:   "127.0.0.1:9100",
		ProbeURL:     "http://127.0.0.1:9100",
		PluginURL:    "http://127.0.0.1:9100",
		DatabaseURL:  db,
		DatabaseVar:  "DATABASE_URL",
		Bin:          "/memory-plugin",
		GateTimeout:  30 * time.Second,
		Required:     true,
		RestartLimit: 5,
	}
	if change != nil {
		change(&p)
	}
	return p
}

// noSidecar is the plan of a mode without sidecar: only the always-read values.
func noSidecar(mode Mode, pluginURL string) Plan {
	return Plan{Mode: mode, PluginURL: pluginURL, Bin: "/memory-plugin", GateTimeout: 30 * time.Second, Required: true, RestartLimit: 5}
}

func TestReadFollowsTheSpecTable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want Plan
	}{
		{name: "nothing set starts no sidecar",
			env: nil, want: noSidecar(ModeNone, "")},
		{name: "a platform database alone starts no sidecar",
			env: map[string]string{"DATABASE_URL": db}, want: noSidecar(ModeNone, "")},
		{name: "cutover false starts no sidecar",
			env: map[string]string{"MEMORY_V2_CUTOVER": "false", "DATABASE_URL": db}, want: noSidecar(ModeNone, "")},
		{name: "an external URL starts no sidecar and passes the URL through unchanged",
			env:  map[string]string{"MEMORY_PLUGIN_URL": "https://memory.example.com/base?x=1"},
			want: noSidecar(ModeExternal, "https://memory.example.com/base?x=1")},
		{name: "an external URL wins over cutover true",
			env:  map[string]string{"MEMORY_V2_CUTOVER": "true", "MEMORY_PLUGIN_URL": "http://10.0.0.7:9100"},
			want: noSidecar(ModeExternal, "http://10.0.0.7:9100")},
		{name: "an external URL wins over disable",
			env:  map[string]string{"MEMORY_PLUGIN_DISABLE": "1", "MEMORY_PLUGIN_URL": "http://memory:9100"},
			want: noSidecar(ModeExternal, "http://memory:9100")},
		{name: "disable alone starts no sidecar",
			env: map[string]string{"MEMORY_PLUGIN_DISABLE": "1"}, want: noSidecar(ModeDisabled, "")},
		{name: "disable wins over cutover true",
			env:  map[string]string{"MEMORY_PLUGIN_DISABLE": "1", "MEMORY_V2_CUTOVER": "true"},
			want: noSidecar(ModeDisabled, "")},
		{name: "disable wins over a loopback URL, which is passed through unchanged",
			env:  map[string]string{"MEMORY_PLUGIN_DISABLE": "1", "MEMORY_PLUGIN_URL": "http://localhost:9100"},
			want: noSidecar(ModeDisabled, "http://localhost:9100")},
		{name: "disable 0 does not disable",
			env:  map[string]string{"MEMORY_PLUGIN_DISABLE": "0", "MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db},
			want: bundled(nil)},
		{name: "cutover true with no URL starts the sidecar on the default address and exports its URL",
			env:  map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db},
			want: bundled(nil)},
		{name: "cutover 1 is true",
			env:  map[string]string{"MEMORY_V2_CUTOVER": "1", "DATABASE_URL": db},
			want: bundled(nil)},
		{name: "a localhost URL alone opts in and listens on its port on 127.0.0.1",
			env: map[string]string{"MEMORY_PLUGIN_URL": "http://localhost:9200", "DATABASE_URL": db},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "127.0.0.1:9200", "http://127.0.0.1:9200", "http://localhost:9200"
			})},
		{name: "a loopback URL starts the sidecar even with cutover false",
			env:  map[string]string{"MEMORY_V2_CUTOVER": "false", "MEMORY_PLUGIN_URL": "http://127.0.0.1:9100", "DATABASE_URL": db},
			want: bundled(nil)},
		{name: "an upper-case LOCALHOST URL is loopback too",
			env:  map[string]string{"MEMORY_PLUGIN_URL": "http://LOCALHOST:9100/", "DATABASE_URL": db},
			want: bundled(func(p *Plan) { p.PluginURL = "http://LOCALHOST:9100/" })},
		{name: "any 127/8 URL is loopback and the sidecar listens on that address",
			env: map[string]string{"MEMORY_PLUGIN_URL": "http://127.0.0.2:9100", "DATABASE_URL": db},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "127.0.0.2:9100", "http://127.0.0.2:9100", "http://127.0.0.2:9100"
			})},
		{name: "an IPv6 loopback URL makes the sidecar listen on [::1]",
			env: map[string]string{"MEMORY_PLUGIN_URL": "http://[::1]:9300", "DATABASE_URL": db},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "[::1]:9300", "http://[::1]:9300", "http://[::1]:9300"
			})},
		{name: "a loopback URL without port listens on port 80",
			env: map[string]string{"MEMORY_PLUGIN_URL": "http://localhost", "DATABASE_URL": db},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "127.0.0.1:80", "http://127.0.0.1:80", "http://localhost"
			})},
		{name: "the plugin's own database wins over the platform's",
			env:  map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": "postgres://other/db", "MEMORY_PLUGIN_DATABASE_URL": db},
			want: bundled(func(p *Plan) { p.DatabaseVar = "MEMORY_PLUGIN_DATABASE_URL" })},
		{name: "a listen address on all interfaces is probed on 127.0.0.1",
			env:  map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": ":9100"},
			want: bundled(func(p *Plan) { p.ListenAddr = ":9100" })},
		{name: "a listen address on 0.0.0.0 is probed on 127.0.0.1",
			env: map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "0.0.0.0:9101"},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "0.0.0.0:9101", "http://127.0.0.1:9101", "http://127.0.0.1:9101"
			})},
		{name: "a listen address on [::] is probed on [::1]",
			env: map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "[::]:9100"},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "[::]:9100", "http://[::1]:9100", "http://[::1]:9100"
			})},
		{name: "a listen address on [::1] is probed there, bracketed",
			env: map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "[::1]:9100"},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "[::1]:9100", "http://[::1]:9100", "http://[::1]:9100"
			})},
		{name: "a listen address on localhost is probed on localhost",
			env: map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "localhost:9100"},
			want: bundled(func(p *Plan) {
				p.ListenAddr, p.ProbeURL, p.PluginURL = "localhost:9100", "http://localhost:9100", "http://localhost:9100"
			})},
		{name: "a listen address that agrees with the URL keeps both",
			env:  map[string]string{"MEMORY_PLUGIN_URL": "http://localhost:9100", "DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": "127.0.0.1:9100"},
			want: bundled(func(p *Plan) { p.PluginURL = "http://localhost:9100" })},
		{name: "a listen address on all interfaces serves any loopback URL on its port",
			env:  map[string]string{"MEMORY_PLUGIN_URL": "http://[::1]:9100", "DATABASE_URL": db, "MEMORY_PLUGIN_LISTEN_ADDR": ":9100"},
			want: bundled(func(p *Plan) { p.ListenAddr, p.PluginURL = ":9100", "http://[::1]:9100" })},
		{name: "the sidecar binary, gate timeout, degrade policy and crash-loop limit are read",
			env: map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db, "MEMORY_PLUGIN_BIN": "/opt/mp/bin/memory-plugin",
				"MEMORY_PLUGIN_GATE_TIMEOUT": "1m30s", "MEMORY_PLUGIN_REQUIRED": "false", "MEMORY_PLUGIN_RESTART_LIMIT": "12"},
			want: bundled(func(p *Plan) {
				p.Bin, p.GateTimeout, p.Required, p.RestartLimit = "/opt/mp/bin/memory-plugin", 90*time.Second, false, 12
			})},
		{name: "empty values read as unset",
			env: map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db, "MEMORY_PLUGIN_URL": "", "MEMORY_PLUGIN_LISTEN_ADDR": "",
				"MEMORY_PLUGIN_BIN": "", "MEMORY_PLUGIN_GATE_TIMEOUT": "", "MEMORY_PLUGIN_REQUIRED": "", "MEMORY_PLUGIN_DISABLE": "",
				"MEMORY_PLUGIN_RESTART_LIMIT": ""},
			want: bundled(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Read(envvar.Map(tt.env))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got != tt.want {
				t.Fatalf("got  %s\nwant %s", fields(got), fields(tt.want))
			}
		})
	}
}

// fields prints a Plan field by field, which only a test may do.
func fields(p Plan) string {
	type plain Plan
	return fmt.Sprintf("%+v", plain(p))
}

func TestReadRejectsBadValues(t *testing.T) {
	cut := func(kv ...string) map[string]string {
		m := map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	tests := []struct {
		name     string
		env      map[string]string
		variable string
		want     []string
	}{
		{name: "cutover yes is not a silent false", env: map[string]string{"MEMORY_V2_CUTOVER": "yes"},
			variable: "MEMORY_V2_CUTOVER", want: []string{`MEMORY_V2_CUTOVER="yes" is invalid`, "accepted: true, false, 1 or 0"}},
		{name: "disable yes is rejected", env: map[string]string{"MEMORY_PLUGIN_DISABLE": "yes"},
			variable: "MEMORY_PLUGIN_DISABLE", want: []string{`MEMORY_PLUGIN_DISABLE="yes"`, "true, false, 1 or 0"}},
		{name: "required maybe is rejected", env: map[string]string{"MEMORY_PLUGIN_REQUIRED": "maybe"},
			variable: "MEMORY_PLUGIN_REQUIRED", want: []string{`MEMORY_PLUGIN_REQUIRED="maybe"`}},
		{name: "a gate timeout without unit is rejected", env: map[string]string{"MEMORY_PLUGIN_GATE_TIMEOUT": "30"},
			variable: "MEMORY_PLUGIN_GATE_TIMEOUT", want: []string{`MEMORY_PLUGIN_GATE_TIMEOUT="30"`, "Go duration"}},
		{name: "a zero gate timeout is rejected", env: map[string]string{"MEMORY_PLUGIN_GATE_TIMEOUT": "0s"},
			variable: "MEMORY_PLUGIN_GATE_TIMEOUT", want: []string{"must be positive"}},
		{name: "a crash-loop limit of 0 is rejected", env: map[string]string{"MEMORY_PLUGIN_RESTART_LIMIT": "0"},
			variable: "MEMORY_PLUGIN_RESTART_LIMIT", want: []string{`MEMORY_PLUGIN_RESTART_LIMIT="0" is invalid: out of range`, "a whole number from 1 to 100"}},
		{name: "a crash-loop limit that is not a number is rejected", env: map[string]string{"MEMORY_PLUGIN_RESTART_LIMIT": "many"},
			variable: "MEMORY_PLUGIN_RESTART_LIMIT", want: []string{`MEMORY_PLUGIN_RESTART_LIMIT="many"`}},
		{name: "a URL without scheme is rejected", env: map[string]string{"MEMORY_PLUGIN_URL": "localhost:9100"},
			variable: "MEMORY_PLUGIN_URL", want: []string{`MEMORY_PLUGIN_URL="localhost:9100"`, "http:// or https:// URL with a host"}},
		{name: "a URL of another scheme is rejected", env: map[string]string{"MEMORY_PLUGIN_URL": "ftp://localhost:9100"},
			variable: "MEMORY_PLUGIN_URL", want: []string{"http:// or https://"}},
		{name: "a URL without host is rejected", env: map[string]string{"MEMORY_PLUGIN_URL": "http:///v1"},
			variable: "MEMORY_PLUGIN_URL", want: []string{"with a host"}},
		{name: "a URL with a bad port is rejected", env: map[string]string{"MEMORY_PLUGIN_URL": "http://localhost:port"},
			variable: "MEMORY_PLUGIN_URL", want: []string{"with a host"}},
		{name: "an https loopback URL is rejected in bundled mode: the sidecar serves http",
			env: cut("MEMORY_PLUGIN_URL", "https://localhost:9100"), variable: "MEMORY_PLUGIN_URL", want: []string{"plain http"}},
		{name: "a bare port as listen address is rejected", env: map[string]string{"MEMORY_PLUGIN_LISTEN_ADDR": "9100"},
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{`MEMORY_PLUGIN_LISTEN_ADDR="9100"`, ":9100, 127.0.0.1:9100, [::1]:9100 or localhost:9100"}},
		{name: "an unbracketed IPv6 listen address is rejected", env: map[string]string{"MEMORY_PLUGIN_LISTEN_ADDR": "::1:9100"},
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{"host:port"}},
		{name: "a named port is rejected", env: map[string]string{"MEMORY_PLUGIN_LISTEN_ADDR": "localhost:http"},
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{"from 1 to 65535"}},
		{name: "port 0 is rejected", env: map[string]string{"MEMORY_PLUGIN_LISTEN_ADDR": ":0"},
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{"from 1 to 65535"}},
		{name: "a port above 65535 is rejected", env: map[string]string{"MEMORY_PLUGIN_LISTEN_ADDR": ":70000"},
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{"from 1 to 65535"}},
		{name: "a host with a slash is rejected", env: map[string]string{"MEMORY_PLUGIN_LISTEN_ADDR": "http://x:9100"},
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{"host:port"}},
		{name: "a listen port that disagrees with the URL names both variables",
			env:      cut("MEMORY_PLUGIN_URL", "http://localhost:9100", "MEMORY_PLUGIN_LISTEN_ADDR", "127.0.0.1:9200"),
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{`MEMORY_PLUGIN_LISTEN_ADDR="127.0.0.1:9200"`, "port 9200 disagrees with MEMORY_PLUGIN_URL=http://localhost:9100 (port 9100)"}},
		{name: "a listen host that the URL does not reach names both variables",
			env:      cut("MEMORY_PLUGIN_URL", "http://[::1]:9100", "MEMORY_PLUGIN_LISTEN_ADDR", "127.0.0.1:9100"),
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{"not reachable at MEMORY_PLUGIN_URL=http://[::1]:9100"}},
		{name: "a listen host off loopback does not serve a localhost URL",
			env:      cut("MEMORY_PLUGIN_URL", "http://localhost:9100", "MEMORY_PLUGIN_LISTEN_ADDR", "10.1.2.3:9100"),
			variable: "MEMORY_PLUGIN_LISTEN_ADDR", want: []string{"not reachable"}},
		{name: "cutover with no database at all is a configuration error",
			env:      map[string]string{"MEMORY_V2_CUTOVER": "true"},
			variable: "MEMORY_PLUGIN_DATABASE_URL", want: []string{"MEMORY_PLUGIN_DATABASE_URL is not set", "MEMORY_V2_CUTOVER=true", "DATABASE_URL is not set either"}},
		{name: "a loopback URL with no database at all is a configuration error",
			env:      map[string]string{"MEMORY_PLUGIN_URL": "http://localhost:9100"},
			variable: "MEMORY_PLUGIN_DATABASE_URL", want: []string{"MEMORY_PLUGIN_URL is loopback"}},
		{name: "a bad value is an error even when the mode does not use it",
			env:      map[string]string{"MEMORY_PLUGIN_GATE_TIMEOUT": "soon"},
			variable: "MEMORY_PLUGIN_GATE_TIMEOUT", want: []string{"soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Read(envvar.Map(tt.env))
			var e *envvar.Error
			if !errors.As(err, &e) {
				t.Fatalf("got plan %q and error %v, want an *envvar.Error", p, err)
			}
			if e.Name != tt.variable {
				t.Errorf("error names %s, want %s", e.Name, tt.variable)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestDescribeSaysWhatTheBootWillDo(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{name: "nothing set",
			env:  nil,
			want: "no memory-plugin sidecar: memory v2 is not opted in (MEMORY_V2_CUTOVER is not true and MEMORY_PLUGIN_URL is unset); main services start alone"},
		{name: "an external plugin, its password hidden",
			env:  map[string]string{"MEMORY_PLUGIN_URL": "https://svc:hunter2@memory.example.com"},
			want: "no memory-plugin sidecar: external memory plugin at https://svc:xxxxx@memory.example.com, passed to the main services unchanged"},
		{name: "disabled without URL",
			env:  map[string]string{"MEMORY_PLUGIN_DISABLE": "1"},
			want: "no memory-plugin sidecar: MEMORY_PLUGIN_DISABLE=1; main services get no MEMORY_PLUGIN_URL"},
		{name: "disabled with a URL",
			env:  map[string]string{"MEMORY_PLUGIN_DISABLE": "true", "MEMORY_PLUGIN_URL": "http://localhost:9100"},
			want: "no memory-plugin sidecar: MEMORY_PLUGIN_DISABLE=1; main services get MEMORY_PLUGIN_URL=http://localhost:9100 unchanged"},
		{name: "bundled and required, the database password hidden",
			env:  map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db},
			want: "bundled memory-plugin sidecar /memory-plugin on 127.0.0.1:9100 (database postgres://app:xxxxx@db:5432/tenant from DATABASE_URL), gated for up to 30s; main services get MEMORY_PLUGIN_URL=http://127.0.0.1:9100; boot aborts if it is not healthy"},
		{name: "bundled and degradable",
			env: map[string]string{"MEMORY_PLUGIN_URL": "http://localhost:9100", "MEMORY_PLUGIN_DATABASE_URL": "host=db password='a b' dbname=x",
				"MEMORY_PLUGIN_REQUIRED": "false", "MEMORY_PLUGIN_GATE_TIMEOUT": "5s"},
			want: "bundled memory-plugin sidecar /memory-plugin on 127.0.0.1:9100 (database host=db password=xxxxx dbname=x from MEMORY_PLUGIN_DATABASE_URL), gated for up to 5s; main services get MEMORY_PLUGIN_URL=http://localhost:9100; if it is not healthy, main services start with MEMORY_PLUGIN_URL empty (memory off)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Read(envvar.Map(tt.env))
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got := p.Describe(); got != tt.want {
				t.Fatalf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestAPrintedPlanNeverShowsThePassword(t *testing.T) {
	p, err := Read(envvar.Map(map[string]string{"MEMORY_V2_CUTOVER": "true", "DATABASE_URL": db}))
	if err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"%v", "%+v", "%s", "%#v"} {
		if out := fmt.Sprintf(verb, p); strings.Contains(out, "s3cret") {
			t.Errorf("%s printed the password: %s", verb, out)
		}
	}
}

func TestRedactDatabaseURL(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{name: "a URL password is hidden", in: "postgres://u:pw@h/db", want: "postgres://u:xxxxx@h/db"},
		{name: "a password query parameter is hidden", in: "postgresql://u@h/db?password=pw&sslmode=disable", want: "postgresql://u@h/db?password=xxxxx&sslmode=disable"},
		{name: "a URL without password is unchanged", in: "postgres://h/db", want: "postgres://h/db"},
		{name: "a keyword password is hidden", in: "host=h password=pw user=u", want: "host=h password=xxxxx user=u"},
		{name: "a quoted keyword password is hidden", in: `host=h password = 'p w\'x' user=u`, want: "host=h password = xxxxx user=u"},
		{name: "an unparsable URL is not shown", in: "postgres://u:p w@h%zz/db", want: "(unparsable URL, not shown)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactDatabaseURL(tt.in); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestEnvironmentEntriesForTheServices(t *testing.T) {
	p, err := Read(envvar.Map(map[string]string{"MEMORY_PLUGIN_URL": "http://localhost:9100", "DATABASE_URL": db}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := p.MainEnv(), []string{"MEMORY_PLUGIN_URL=http://localhost:9100"}; !slices.Equal(got, want) {
		t.Errorf("MainEnv = %q, want %q", got, want)
	}
	if got, want := p.SidecarEnv(), []string{"MEMORY_PLUGIN_LISTEN_ADDR=127.0.0.1:9100", "MEMORY_PLUGIN_DATABASE_URL=" + db}; !slices.Equal(got, want) {
		t.Errorf("SidecarEnv = %q, want %q", got, want)
	}

	ext, err := Read(envvar.Map(map[string]string{"MEMORY_PLUGIN_URL": "https://memory.example.com"}))
	if err != nil {
		t.Fatal(err)
	}
	if ext.MainEnv() != nil || ext.SidecarEnv() != nil {
		t.Errorf("an external plugin adds entries: main %q, sidecar %q", ext.MainEnv(), ext.SidecarEnv())
	}
}

func TestModeNames(t *testing.T) {
	for m, want := range map[Mode]string{ModeNone: "none", ModeBundled: "bundled", ModeExternal: "external", ModeDisabled: "disabled", Mode(42): "unknown"} {
		if m.String() != want {
			t.Errorf("Mode(%d) = %q, want %q", int(m), m, want)
		}
	}
}
