package main

import (
	"reflect"
	"testing"

	"github.com/agentplatform/tenant-init/supervisor"
)

func TestServiceDeclarations(t *testing.T) {
	type svc struct {
		name, dir string
		argv      []string
	}
	tests := []struct {
		name    string
		text    string
		one     bool
		want    []svc
		wantErr string
	}{
		{name: "name and cmd make a service, cmd split into words",
			text: "name=web,cmd=node server.js --port 3000", one: true,
			want: []svc{{name: "web", argv: []string{"node", "server.js", "--port", "3000"}}}},
		{name: "dir is optional and kept as given",
			text: "name=web,dir=/app,cmd=./web", one: true,
			want: []svc{{name: "web", dir: "/app", argv: []string{"./web"}}}},
		{name: "commas inside cmd need no escaping, cmd taking the rest",
			text: "name=a,cmd=echo a,b", one: true,
			want: []svc{{name: "a", argv: []string{"echo", "a,b"}}}},
		{name: "quotes group words as in sh, without expansion",
			text: `name=a,cmd=sh -c 'echo "$HOME"; exit 3' "two words" it\'s "say \"hi\""`, one: true,
			want: []svc{{name: "a", argv: []string{"sh", "-c", `echo "$HOME"; exit 3`, "two words", "it's", `say "hi"`}}}},
		{name: "an empty quoted argument is kept",
			text: `name=a,cmd=printf '%s' ""`, one: true,
			want: []svc{{name: "a", argv: []string{"printf", "%s", ""}}}},
		{name: "unquoted semicolons separate declarations in the variable",
			text: " name=web,cmd=./web ; name=front,dir=/ui,cmd=npm start;", one: false,
			want: []svc{{name: "web", argv: []string{"./web"}}, {name: "front", dir: "/ui", argv: []string{"npm", "start"}}}},
		{name: "an unquoted semicolon in a flag is refused", text: "name=a,cmd=x; name=b,cmd=y", one: true,
			wantErr: "one declaration per --service; repeat the flag"},
		{name: "cmd must come last", text: "cmd=./web,name=web", one: true, wantErr: "missing name=NAME"},
		{name: "a declaration needs cmd", text: "name=web", one: true, wantErr: "missing cmd=COMMAND"},
		{name: "an empty cmd is refused", text: "name=web,cmd=  ", one: true, wantErr: "cmd is empty"},
		{name: "an unknown key is refused", text: "name=web,user=app,cmd=x", one: true, wantErr: "unknown key user (keys: name, dir, cmd)"},
		{name: "a key given twice is refused", text: "name=a,name=b,cmd=x", one: true, wantErr: "name given twice"},
		{name: "main is COMMAND's name", text: "name=main,cmd=x", one: true, wantErr: `the name "main" is COMMAND's`},
		{name: "memory-plugin is the bundled sidecar's name", text: "name=memory-plugin,cmd=x", one: true, wantErr: `the name "memory-plugin" is the bundled sidecar's`},
		{name: "a name with a space is refused", text: "name=my web,cmd=x", one: true, wantErr: "name my web must be letters, digits, '.', '_' or '-'"},
		{name: "an empty dir is refused", text: "name=a,dir=,cmd=x", one: true, wantErr: "dir is empty"},
		{name: "an unterminated quote is refused", text: "name=a,cmd=echo 'hi", one: true, wantErr: "unterminated ' quote"},
		{name: "a trailing backslash is refused", text: `name=a,cmd=echo \`, one: true, wantErr: "trailing backslash"},
		{name: "nothing at all is refused", text: " ; ", one: false, wantErr: "no declaration"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseServices(tt.text, tt.one)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []supervisor.Service
			for _, w := range tt.want {
				want = append(want, supervisor.Service{Name: w.name, Role: supervisor.Main, Dir: w.dir, Argv: w.argv})
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %+v\nwant %+v", got, want)
			}
		})
	}
}
