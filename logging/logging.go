// Package logging is the one log configuration of the module's programs.
// tenant-init and the memory-plugin sidecar it starts write into the same
// container log, so they share one encoder, one set of keys and one time
// format, and a reader (or a log pipeline) parses every line the same way:
//
//	{"level":"info","ts":"2026-01-02T15:04:05.123456789Z","logger":"http","msg":"listening","addr":"127.0.0.1:9100"}
//
// Keys: ts (RFC 3339 with nanoseconds), level (lowercase), logger (the name
// given with zap.Logger.Named, when there is one), msg, then the fields;
// durations are written as Go durations ("1.5s"). The Console format writes the
// same entries as aligned text lines for a person at a terminal. The command
// chooses format and level; this package only owns how a line looks.
//
// NewCore is that configuration for zap: the memory plugin wraps it in a
// zap.Logger. tenant-init, a PID 1 that pays at every start and in resident
// memory for what it links, writes through Logger, which writes the same
// bytes for the same entry without zap (logger.go says why; the tests compare
// the two, field type by field type, in both formats).
package logging

import (
	"io"

	"go.uber.org/zap/zapcore"
)

// Format is how entries are written.
type Format string

const (
	JSON    Format = "json"    // one JSON object per line, for machines
	Console Format = "console" // aligned text, capitalised level, for a terminal
)

// The keys of every entry.
const (
	TimeKey    = "ts"
	LevelKey   = "level"
	NameKey    = "logger"
	MessageKey = "msg"
)

// NewCore returns the core writing entries at level and above to w in format
// (JSON for anything but Console): zap.New(NewCore(...)) is a zap.Logger with
// the shared schema. Writes to w are serialised, so w may be shared, e.g.
// os.Stderr.
func NewCore(format Format, level zapcore.LevelEnabler, w io.Writer) zapcore.Core {
	enc := zapcore.EncoderConfig{
		TimeKey:        TimeKey,
		LevelKey:       LevelKey,
		NameKey:        NameKey,
		MessageKey:     MessageKey,
		LineEnding:     zapcore.DefaultLineEnding,
		EncodeTime:     zapcore.RFC3339NanoTimeEncoder,
		EncodeLevel:    zapcore.LowercaseLevelEncoder,
		EncodeDuration: zapcore.StringDurationEncoder,
		EncodeName:     zapcore.FullNameEncoder,
	}
	var encoder zapcore.Encoder
	if format == Console {
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
		encoder = zapcore.NewConsoleEncoder(enc)
	} else {
		encoder = zapcore.NewJSONEncoder(enc)
	}
	return zapcore.NewCore(encoder, zapcore.Lock(zapcore.AddSync(w)), level)
}
