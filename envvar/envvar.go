// Package envvar reads typed values from environment variables strictly.
//
// Operators configure tenants through the environment at 3 a.m.; a typo such as
// MEMORY_V2_CUTOVER=yes must stop the boot with one line that names the variable
// and the accepted forms, never turn into a silent default. Every environment
// value tenant-init and its tools read goes through this package, so the accepted
// forms and the wording of the errors are the same everywhere.
package envvar

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// An Error reports an environment variable whose value is not one of the
// accepted forms. Commands map it to exit status 78 (EX_CONFIG).
type Error struct {
	Name     string // the variable, e.g. MEMORY_V2_CUTOVER
	Value    string // what it was set to; empty when a required variable is unset
	Accepted string // the accepted forms, e.g. "true, false, 1 or 0"
	Reason   string // optional detail, e.g. "must be positive"
}

func (e *Error) Error() string {
	// Empty values read as unset everywhere in this package, so an empty Value
	// can only mean a variable that had to be set and was not.
	msg := fmt.Sprintf("%s=%q is invalid", e.Name, e.Value)
	if e.Value == "" {
		msg = e.Name + " is not set"
	}
	if e.Reason != "" {
		msg += ": " + e.Reason
	}
	return msg + "; accepted: " + e.Accepted
}

// Lookup is the source of variables: os.LookupEnv in production, a map in tests.
type Lookup func(name string) (string, bool)

// OS reads the process environment.
var OS Lookup = os.LookupEnv

// Map returns a Lookup over a fixed set of variables.
func Map(m map[string]string) Lookup {
	return func(name string) (string, bool) { v, ok := m[name]; return v, ok }
}

// String returns the variable's value, or def when it is unset or empty.
func (l Lookup) String(name, def string) string {
	if v, ok := l(name); ok && v != "" {
		return v
	}
	return def
}

// Bool accepts true/false and 1/0 (case-insensitive); unset or empty means def.
func (l Lookup) Bool(name string, def bool) (bool, error) {
	v, ok := l(name)
	if !ok || v == "" {
		return def, nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, &Error{Name: name, Value: v, Accepted: "true, false, 1 or 0"}
}

// Duration accepts a positive Go duration such as 30s or 1m30s; unset or empty
// means def.
func (l Lookup) Duration(name string, def time.Duration) (time.Duration, error) {
	v, ok := l(name)
	if !ok || v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, &Error{Name: name, Value: v, Accepted: "a Go duration such as 500ms, 30s or 1m30s"}
	}
	if d <= 0 {
		return 0, &Error{Name: name, Value: v, Reason: "must be positive", Accepted: "a Go duration such as 500ms, 30s or 1m30s"}
	}
	return d, nil
}

// Int accepts a whole number from min to max; unset or empty means def.
func (l Lookup) Int(name string, def, min, max int) (int, error) {
	v, ok := l(name)
	if !ok || v == "" {
		return def, nil
	}
	accepted := fmt.Sprintf("a whole number from %d to %d", min, max)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, &Error{Name: name, Value: v, Accepted: accepted}
	}
	if n < min || n > max {
		return 0, &Error{Name: name, Value: v, Reason: "out of range", Accepted: accepted}
	}
	return n, nil
}

// Float accepts a decimal number from min to max; unset or empty means def.
func (l Lookup) Float(name string, def, min, max float64) (float64, error) {
	v, ok := l(name)
	if !ok || v == "" {
		return def, nil
	}
	accepted := fmt.Sprintf("a decimal number from %g to %g, such as %g", min, max, def)
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil {
		return 0, &Error{Name: name, Value: v, Accepted: accepted}
	}
	if !(f >= min && f <= max) { // NaN too
		return 0, &Error{Name: name, Value: v, Reason: "out of range", Accepted: accepted}
	}
	return f, nil
}
