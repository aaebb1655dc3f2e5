package plugin

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Request decoding is strict about what it knows: a body holds exactly one
// JSON object, and a known field of the wrong type, malformed JSON or invalid
// UTF-8 is a 400 that names the culprit, never a silent default. Fields it does
// not know are ignored, as the contract asks: the client is versioned
// separately and may add optional fields, and the platform's own plugin ignores
// them (Service.serve logs them at debug level, see unknownFields).

// decodeStrict decodes data, which must be one JSON object, into v; what
// names data in messages ("request body", "item").
func decodeStrict(data []byte, what string, v any) *apiError {
	if !utf8.Valid(data) {
		return badRequest(what + " is not valid UTF-8")
	}
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return badRequest(what + " is empty; expected a JSON object")
	}
	if trimmed[0] != '{' {
		return badRequest(what + " must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return badRequest(what + " must hold exactly one JSON object; found more after it")
		}
		return nil
	}
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntaxErr):
		return badRequest(fmt.Sprintf("%s is not valid JSON at byte %d: %s", what, syntaxErr.Offset, syntaxErr))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest(what + " is not valid JSON: it ends too early")
	case errors.As(err, &typeErr):
		return fieldError(typeErr.Field, fmt.Sprintf("must be %s, not %s", jsonKind(typeErr.Type), typeErr.Value))
	}
	return badRequest(what + " is not valid: " + err.Error())
}

// jsonKind names the JSON type a Go type is decoded from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	}
	return "an object"
}

// jsonFields lists the JSON names of the fields of the struct v points to.
func jsonFields(v any) []string {
	t := reflect.TypeOf(v).Elem()
	names := make([]string, 0, t.NumField())
	for i := 0; i < t.NumField(); i++ {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// unknownFields returns the top-level keys of the JSON object data that the
// struct v points to has no field for (encoding/json matches names without
// regard to case, so this does too). Data that is not an object has none.
func unknownFields(data []byte, v any) []string {
	var keys map[string]json.RawMessage
	if json.Unmarshal(data, &keys) != nil {
		return nil
	}
	known := jsonFields(v)
	var out []string
	for k := range keys {
		if !slices.ContainsFunc(known, func(f string) bool { return strings.EqualFold(f, k) }) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// isNull tells whether a raw field is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

func parseTime(field string, s *string) (*time.Time, *apiError) {
	if s == nil {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, *s)
	if err != nil {
		return nil, fieldError(field, fmt.Sprintf("%q is not an RFC 3339 timestamp such as 2026-11-22T10:00:00Z", *s))
	}
	return &t, nil
}

// parseRawTime reads a PATCH timestamp: a string or null.
func parseRawTime(field string, raw json.RawMessage) (*time.Time, *apiError) {
	if isNull(raw) {
		return nil, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fieldError(field, "must be an RFC 3339 timestamp string or null")
	}
	return parseTime(field, &s)
}

// objectOrNull checks a metadata or propagation value: a JSON object, or
// absent/null (nil). The platform's client decodes both into a map, so any
// other JSON value, once stored, would break every later read of it.
func objectOrNull(field string, raw json.RawMessage) ([]byte, *apiError) {
	if isNull(raw) {
		return nil, nil
	}
	if raw[0] != '{' {
		return nil, fieldError(field, "must be a JSON object or null, not "+jsonValueKind(raw))
	}
	return raw, nil
}

// jsonValueKind names the kind of a valid JSON value by its first byte.
func jsonValueKind(raw json.RawMessage) string {
	switch raw[0] {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

func oneOf(field, value string, allowed []string) *apiError {
	for _, a := range allowed {
		if value == a {
			return nil
		}
	}
	if value == "" {
		return fieldError(field, "is required: one of "+strings.Join(allowed, ", "))
	}
	return fieldError(field, fmt.Sprintf("%q is not one of %s", value, strings.Join(allowed, ", ")))
}

func checkNamespaceField(field, name string) *apiError {
	if why := checkNamespace(name); why != "" {
		return fieldError(field, why)
	}
	return nil
}

// checkEmbedding converts a client-supplied embedding of the configured
// dimension; nil stays nil (the plugin embeds the content itself).
func checkEmbedding(field string, e []float64, dim int) ([]float32, *apiError) {
	if e == nil {
		return nil, nil
	}
	if len(e) != dim {
		return nil, fieldError(field, fmt.Sprintf("has %d dimensions; this plugin stores %d-dimensional embeddings", len(e), dim))
	}
	out := make([]float32, len(e))
	nonZero := false
	for i, x := range e {
		f := float32(x)
		if math.IsInf(float64(f), 0) {
			return nil, fieldError(field, fmt.Sprintf("value %d (%g) is out of the float32 range", i, x))
		}
		nonZero = nonZero || f != 0
		out[i] = f
	}
	if !nonZero {
		return nil, fieldError(field, "is all zeros; cosine similarity needs a non-zero vector")
	}
	return out, nil
}
