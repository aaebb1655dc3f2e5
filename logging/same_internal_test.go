package logging

import (
	"bytes"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// tenant-init writes through Logger, the memory plugin through a zap.Logger on
// NewCore: the container log must not tell them apart. Every field
// constructor, at every level, in both formats, with the characters JSON
// escapes, control characters and invalid UTF-8 in messages, keys and values.
func TestLoggerWritesWhatZapWritesForTheSameEntry(t *testing.T) {
	at := time.Date(2026, 12, 4, 13, 40, 5, 123456789, time.UTC)
	type event struct {
		level zapcore.Level
		msg   string
		ours  []Field
		zaps  []zap.Field
	}
	events := []event{
		{zapcore.InfoLevel, "service started",
			[]Field{String("service", "main"), Stringer("signal", syscall.SIGTERM), Int("pid", 42), Strings("argv", []string{"sh", "-c", `echo "hi"`}), Bool("foreground", true)},
			[]zap.Field{zap.String("service", "main"), zap.Stringer("signal", syscall.SIGTERM), zap.Int("pid", 42), zap.Strings("argv", []string{"sh", "-c", `echo "hi"`}), zap.Bool("foreground", true)}},
		{zapcore.WarnLevel, "grace expired: killed",
			[]Field{Duration("grace", 1500*time.Millisecond), Bool("leader_running", false), Int64("ms", 7)},
			[]zap.Field{zap.Duration("grace", 1500*time.Millisecond), zap.Bool("leader_running", false), zap.Int64("ms", 7)}},
		{zapcore.ErrorLevel, "cannot drop privileges: \u00e9\t\"quoted\" \\ \x00\x1b\x7f\r\n\xff\u2028 <&>",
			[]Field{Ints("groups", []int{1000, -27}), Strings("stderr_tail", nil), Strings("argv", []string{"\x01", "\xc3", ""}), Ints("none", nil), String("k\"ey\n", "\\")},
			[]zap.Field{zap.Ints("groups", []int{1000, -27}), zap.Strings("stderr_tail", nil), zap.Strings("argv", []string{"\x01", "\xc3", ""}), zap.Ints("none", nil), zap.String("k\"ey\n", "\\")}},
		{zapcore.InfoLevel, "no fields", nil, nil},
		{zapcore.WarnLevel, "", []Field{Duration("d", 0), Duration("long", 90*time.Minute+time.Nanosecond), Int64("min", -1<<63)},
			[]zap.Field{zap.Duration("d", 0), zap.Duration("long", 90*time.Minute+time.Nanosecond), zap.Int64("min", -1<<63)}},
		{zapcore.DebugLevel, "below info: dropped by both", nil, nil},
	}
	for _, format := range []Format{JSON, Console} {
		var ours, theirs bytes.Buffer
		l := New(format, InfoLevel, &ours)
		l.now = func() time.Time { return at }
		z := zap.New(NewCore(format, zapcore.InfoLevel, &theirs), zap.WithClock(fixedClock(at)))
		for _, e := range events {
			switch e.level {
			case zapcore.DebugLevel:
				l.Debug(e.msg, e.ours...)
				z.Debug(e.msg, e.zaps...)
			case zapcore.InfoLevel:
				l.Info(e.msg, e.ours...)
				z.Info(e.msg, e.zaps...)
			case zapcore.WarnLevel:
				l.Warn(e.msg, e.ours...)
				z.Warn(e.msg, e.zaps...)
			case zapcore.ErrorLevel:
				l.Error(e.msg, e.ours...)
				z.Error(e.msg, e.zaps...)
			}
		}
		if ours.String() != theirs.String() || !strings.Contains(ours.String(), "no fields") || strings.Contains(ours.String(), "dropped") {
			t.Errorf("%s: Logger wrote\n%s\nzap wrote\n%s", format, ours.String(), theirs.String())
		}
	}
}

func TestParseLevelReadsWhatZapReads(t *testing.T) {
	for _, name := range []string{"debug", "info", "warn", "error"} {
		ours, err := ParseLevel(name)
		theirs, _ := zapcore.ParseLevel(name)
		if err != nil || ours.String() != theirs.String() || int(ours) != int(theirs) {
			t.Errorf("ParseLevel(%q) = %v, %v; zap reads %v", name, ours, err, theirs)
		}
	}
	if _, err := ParseLevel("verbose"); err == nil {
		t.Error("ParseLevel(verbose) did not fail")
	}
}

func TestANilLoggerDiscards(t *testing.T) {
	var l *Logger
	l.Error("nowhere", String("k", "v"))
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time                         { return time.Time(c) }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
