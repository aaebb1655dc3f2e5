package logging

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// A Logger writes entries in the shared schema, as a zap.Logger on NewCore
// would, byte for byte (a test compares them field type by field type, in
// both formats), without linking zap or zapcore. It serves tenant-init, a
// PID 1 that pays at every start and in resident memory for what it links:
// package zap imports net/http, and zapcore with encoding/json was still 0.4
// MiB of the init's 3 MiB binary, which the kernel keeps resident. It has
// what the supervisor uses: four levels and the fields below, no names, no
// sampling. Each entry is written whole, with one Write, so there is nothing
// to sync. A nil *Logger discards everything.
type Logger struct {
	format Format
	level  Level
	now    func() time.Time // time.Now; tests fix it to compare with zap

	mu  sync.Mutex // one entry at a time, so that w may be shared (os.Stderr)
	w   io.Writer
	buf []byte
}

// Level is an entry's severity; a Logger writes its level and above.
type Level int8

const (
	DebugLevel Level = iota - 1
	InfoLevel
	WarnLevel
	ErrorLevel
)

// levelNames are the levels as the schema writes them (zap's names).
var levelNames = [...]string{"debug", "info", "warn", "error"}

func (l Level) String() string { return levelNames[l-DebugLevel] }

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (Level, error) {
	for i, name := range levelNames {
		if s == name {
			return Level(i) + DebugLevel, nil
		}
	}
	return 0, fmt.Errorf("unknown level %q: want debug, info, warn or error", s)
}

// New returns a Logger writing entries at level and above to w in format
// (JSON for anything but Console).
func New(format Format, level Level, w io.Writer) *Logger {
	return &Logger{format: format, level: level, now: time.Now, w: w}
}

func (l *Logger) Debug(msg string, fields ...Field) { l.write(DebugLevel, msg, fields) }
func (l *Logger) Info(msg string, fields ...Field)  { l.write(InfoLevel, msg, fields) }
func (l *Logger) Warn(msg string, fields ...Field)  { l.write(WarnLevel, msg, fields) }
func (l *Logger) Error(msg string, fields ...Field) { l.write(ErrorLevel, msg, fields) }

// write encodes one entry as zapcore's JSON or console encoder does with
// NewCore's configuration: level, ts (RFC 3339 nano), msg, then the fields.
func (l *Logger) write(level Level, msg string, fields []Field) {
	if l == nil || level < l.level {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buf[:0]
	t := l.now()
	if l.format == Console {
		// time, LEVEL, message, {fields}: tab-separated; the fields as
		// spaced JSON, and only when there are some.
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '\t')
		b = append(b, upper(level.String())...)
		b = append(b, '\t')
		b = append(b, msg...)
		if len(fields) > 0 {
			b = append(b, "\t{"...)
			b = appendFields(b, fields, true)
			b = append(b, '}')
		}
	} else {
		b = append(b, `{"`+LevelKey+`":"`...)
		b = append(b, level.String()...)
		b = append(b, `","`+TimeKey+`":"`...)
		b = t.AppendFormat(b, time.RFC3339Nano)
		b = append(b, `","`+MessageKey+`":`...)
		b = appendString(b, msg)
		if len(fields) > 0 {
			b = append(b, ',')
			b = appendFields(b, fields, false)
		}
		b = append(b, '}')
	}
	b = append(b, '\n')
	// An entry that cannot be written has nowhere else to go: stderr is the log.
	_, _ = l.w.Write(b)
	l.buf = b
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = c - 'a' + 'A'
	}
	return string(b)
}

// appendFields writes "key":value pairs, comma-separated; spaced (console)
// adds a space after each colon and comma, as zapcore does.
func appendFields(b []byte, fields []Field, spaced bool) []byte {
	for i, f := range fields {
		if i > 0 {
			b = appendSeparator(b, ',', spaced)
		}
		b = appendString(b, f.key)
		b = appendSeparator(b, ':', spaced)
		switch f.kind {
		case stringField:
			b = appendString(b, f.str)
		case intField:
			b = strconv.AppendInt(b, f.num, 10)
		case boolField:
			b = strconv.AppendBool(b, f.num != 0)
		case durationField:
			b = appendString(b, time.Duration(f.num).String())
		case stringerField:
			b = appendString(b, f.stringer.String())
		case stringsField:
			b = append(b, '[')
			for j, s := range f.strs {
				if j > 0 {
					b = appendSeparator(b, ',', spaced)
				}
				b = appendString(b, s)
			}
			b = append(b, ']')
		case intsField:
			b = append(b, '[')
			for j, n := range f.ints {
				if j > 0 {
					b = appendSeparator(b, ',', spaced)
				}
				b = strconv.AppendInt(b, int64(n), 10)
			}
			b = append(b, ']')
		}
	}
	return b
}

func appendSeparator(b []byte, sep byte, spaced bool) []byte {
	b = append(b, sep)
	if spaced {
		b = append(b, ' ')
	}
	return b
}

// appendString writes s as a JSON string escaped as zapcore escapes it:
// backslash and quote escaped, \n \r \t by name, other control characters
// as \u00XX, invalid UTF-8 as \ufffd, everything else as is.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			i++
			switch {
			case c >= ' ' && c != '\\' && c != '"':
				b = append(b, c)
			case c == '\\' || c == '"':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// A Field is one key and value of an entry; the constructors are named after
// zap's, and write what zap's write.
type Field struct {
	key      string
	kind     fieldKind
	str      string
	num      int64
	stringer fmt.Stringer
	strs     []string
	ints     []int
}

type fieldKind uint8

const (
	stringField fieldKind = iota
	intField
	boolField
	durationField
	stringerField
	stringsField
	intsField
)

func String(key, v string) Field      { return Field{key: key, kind: stringField, str: v} }
func Int(key string, v int) Field     { return Int64(key, int64(v)) }
func Int64(key string, v int64) Field { return Field{key: key, kind: intField, num: v} }
func Duration(key string, v time.Duration) Field {
	return Field{key: key, kind: durationField, num: int64(v)}
}
func Stringer(key string, v fmt.Stringer) Field {
	return Field{key: key, kind: stringerField, stringer: v}
}
func Strings(key string, v []string) Field { return Field{key: key, kind: stringsField, strs: v} }
func Ints(key string, v []int) Field       { return Field{key: key, kind: intsField, ints: v} }
func Bool(key string, v bool) Field {
	f := Field{key: key, kind: boolField}
	if v {
		f.num = 1
	}
	return f
}
