package logging

import (
	"fmt"
	"io"
	"time"

	"go.uber.org/zap/zapcore"
)

// A Logger writes entries through NewCore's core, as a zap.Logger on it would,
// without linking package zap (see the package documentation). It has what
// tenant-init's supervisor uses: four levels and the fields below. A nil
// *Logger discards everything.
type Logger struct {
	core zapcore.Core
	now  func() time.Time // time.Now; tests fix it to compare with zap
}

// New returns a Logger writing entries at level and above to w in format.
func New(format Format, level zapcore.LevelEnabler, w io.Writer) *Logger {
	return &Logger{core: NewCore(format, level, w), now: time.Now}
}

func (l *Logger) Debug(msg string, fields ...Field) { l.write(zapcore.DebugLevel, msg, fields) }
func (l *Logger) Info(msg string, fields ...Field)  { l.write(zapcore.InfoLevel, msg, fields) }
func (l *Logger) Warn(msg string, fields ...Field)  { l.write(zapcore.WarnLevel, msg, fields) }
func (l *Logger) Error(msg string, fields ...Field) { l.write(zapcore.ErrorLevel, msg, fields) }

// Sync flushes what the writer buffers.
func (l *Logger) Sync() error {
	if l == nil {
		return nil
	}
	return l.core.Sync()
}

func (l *Logger) write(level zapcore.Level, msg string, fields []Field) {
	if l == nil || !l.core.Enabled(level) {
		return
	}
	// An entry that cannot be written has nowhere else to go: stderr is the log.
	_ = l.core.Write(zapcore.Entry{Level: level, Time: l.now(), Message: msg}, fields)
}

// A Field is one key and value of an entry; the constructors below build the
// same fields as zap's functions of the same names.
type Field = zapcore.Field

func String(key, v string) Field  { return Field{Key: key, Type: zapcore.StringType, String: v} }
func Int(key string, v int) Field { return Int64(key, int64(v)) }
func Int64(key string, v int64) Field {
	return Field{Key: key, Type: zapcore.Int64Type, Integer: v}
}
func Duration(key string, v time.Duration) Field {
	return Field{Key: key, Type: zapcore.DurationType, Integer: int64(v)}
}
func Stringer(key string, v fmt.Stringer) Field {
	return Field{Key: key, Type: zapcore.StringerType, Interface: v}
}
func Strings(key string, v []string) Field {
	return Field{Key: key, Type: zapcore.ArrayMarshalerType, Interface: stringArray(v)}
}
func Ints(key string, v []int) Field {
	return Field{Key: key, Type: zapcore.ArrayMarshalerType, Interface: intArray(v)}
}
func Bool(key string, v bool) Field {
	var i int64
	if v {
		i = 1
	}
	return Field{Key: key, Type: zapcore.BoolType, Integer: i}
}

type stringArray []string

func (a stringArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, s := range a {
		enc.AppendString(s)
	}
	return nil
}

type intArray []int

func (a intArray) MarshalLogArray(enc zapcore.ArrayEncoder) error {
	for _, i := range a {
		enc.AppendInt(i)
	}
	return nil
}
