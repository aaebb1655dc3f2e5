package envvar

import "strings"

// OneOf accepts one of the listed values, case-insensitively, and returns it as
// listed; unset or empty means def.
func (l Lookup) OneOf(name, def string, accepted ...string) (string, error) {
	v, ok := l(name)
	if !ok || v == "" {
		return def, nil
	}
	for _, a := range accepted {
		if strings.EqualFold(strings.TrimSpace(v), a) {
			return a, nil
		}
	}
	return "", &Error{Name: name, Value: v, Accepted: orList(accepted)}
}

// orList writes a, b or c.
func orList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
