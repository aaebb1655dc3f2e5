package main

import (
	"strings"

	"github.com/agentplatform/tenant-init/supervisor"
)

// serviceForm is the syntax of a service declaration, for --help and errors.
//
// A declaration is comma-separated key=value pairs, cmd last: its value is the
// rest of the declaration, split into words as sh would (quotes and backslashes,
// no expansion), so commas in it need no escaping. An unquoted ";" ends a
// declaration, as in sh; it separates declarations in TENANT_INIT_SERVICES.
const serviceForm = "name=NAME[,dir=DIR],cmd=COMMAND [ARGS...] (cmd last; arguments quoted as in sh)"

// isServiceName tells a name of letters, digits, ".", "_" and "-" that starts
// with a letter or digit. Written out rather than a regular expression: PID 1
// would link and initialise package regexp for it.
func isServiceName(s string) bool {
	for i, c := range []byte(s) {
		alnum := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '_' && c != '.' && c != '-') {
			return false
		}
	}
	return s != ""
}

// serviceError says what is wrong with a declaration.
type serviceError struct{ reason string }

func (e serviceError) Error() string { return e.reason }

// parseServices reads declarations separated by unquoted ";". With one set, text
// must hold exactly one (a --service flag).
func parseServices(text string, one bool) ([]supervisor.Service, error) {
	decls, err := splitCommands(text)
	if err != nil {
		return nil, err
	}
	if one && len(decls) > 1 {
		return nil, serviceError{"one declaration per --service; repeat the flag"}
	}
	var svcs []supervisor.Service
	for _, decl := range decls {
		svc, err := parseService(decl)
		if err != nil {
			return nil, err
		}
		svcs = append(svcs, svc)
	}
	if len(svcs) == 0 {
		return nil, serviceError{"no declaration"}
	}
	return svcs, nil
}

// parseService reads one declaration.
func parseService(decl string) (supervisor.Service, error) {
	svc := supervisor.Service{Role: supervisor.Main}
	rest := strings.TrimSpace(decl)
	seen := map[string]bool{}
	for {
		key, value, ok := strings.Cut(rest, "=")
		if !ok {
			return svc, serviceError{"missing cmd=COMMAND"}
		}
		key = strings.TrimSpace(key)
		if seen[key] {
			return svc, serviceError{key + " given twice"}
		}
		seen[key] = true
		if key == "cmd" {
			argv, err := splitWords(value)
			if err != nil {
				return svc, err
			}
			if len(argv) == 0 {
				return svc, serviceError{"cmd is empty"}
			}
			svc.Argv = argv
			break
		}
		value, rest, _ = strings.Cut(value, ",")
		switch key {
		case "name":
			svc.Name = value
		case "dir":
			svc.Dir = value
		default:
			return svc, serviceError{"unknown key " + key + " (keys: name, dir, cmd)"}
		}
	}
	switch {
	case svc.Name == "":
		return svc, serviceError{"missing name=NAME"}
	case svc.Name == "main":
		return svc, serviceError{`the name "main" is COMMAND's`}
	case svc.Name == memorySidecarName:
		// Reserved even when memory v2 is off, so that opting in later
		// cannot turn a working declaration into a clash at boot.
		return svc, serviceError{`the name "` + memorySidecarName + `" is the bundled sidecar's`}
	case !isServiceName(svc.Name):
		return svc, serviceError{"name " + svc.Name + " must be letters, digits, '.', '_' or '-'"}
	case seen["dir"] && svc.Dir == "":
		return svc, serviceError{"dir is empty"}
	}
	return svc, nil
}

// splitCommands cuts text at each ";" outside quotes.
func splitCommands(text string) ([]string, error) {
	var decls []string
	start := 0
	err := scanShell(text, func(i int, c byte, quoted bool) {
		if c == ';' && !quoted {
			decls = append(decls, text[start:i])
			start = i + 1
		}
	})
	if err != nil {
		return nil, err
	}
	decls = append(decls, text[start:])
	var kept []string
	for _, d := range decls {
		if strings.TrimSpace(d) != "" {
			kept = append(kept, d)
		}
	}
	return kept, nil
}

// splitWords splits a command line into words as sh does, without expansions.
func splitWords(line string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	err := scanShell(line, func(_ int, c byte, quoted bool) {
		switch {
		case !quoted && (c == ' ' || c == '\t' || c == '\n'):
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteByte(c)
			inWord = true
		}
	}, func() { inWord = true }) // "" is an empty word
	if inWord {
		words = append(words, word.String())
	}
	return words, err
}

// scanShell walks text as sh reads quotes: '...' literally, "..." with \" \\ \$ \`
// escapes, a backslash elsewhere escaping the next byte. It calls each for every
// byte that is content, saying whether it was quoted or escaped; quote characters
// themselves are not content, but onQuote is called for each opening quote.
func scanShell(text string, each func(i int, c byte, quoted bool), onQuote ...func()) error {
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch c {
		case '\\':
			if i+1 == len(text) {
				return serviceError{"trailing backslash"}
			}
			i++
			each(i, text[i], true)
		case '\'', '"':
			for _, f := range onQuote {
				f()
			}
			end := i + 1
			for ; end < len(text) && text[end] != c; end++ {
				if c == '"' && text[end] == '\\' && end+1 < len(text) && strings.IndexByte("\"\\$`", text[end+1]) >= 0 {
					end++
				}
				each(end, text[end], true)
			}
			if end == len(text) {
				return serviceError{"unterminated " + string(c) + " quote"}
			}
			i = end
		default:
			each(i, c, false)
		}
	}
	return nil
}
