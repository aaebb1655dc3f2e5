package logging

import (
	"bytes"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// tenant-init writes through Logger, the memory plugin through a zap.Logger on
// the same core: the container log must not tell them apart. Every field
// constructor tenant-init uses, at every level, in both formats.
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
		{zapcore.ErrorLevel, "cannot drop privileges: \u00e9\t\"quoted\"",
			[]Field{Ints("groups", []int{1000, 27}), Strings("stderr_tail", nil)},
			[]zap.Field{zap.Ints("groups", []int{1000, 27}), zap.Strings("stderr_tail", nil)}},
		{zapcore.DebugLevel, "below info: dropped by both", nil, nil},
	}
	for _, format := range []Format{JSON, Console} {
		var ours, theirs bytes.Buffer
		l := New(format, zapcore.InfoLevel, &ours)
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
		if ours.String() != theirs.String() || bytes.Count(ours.Bytes(), []byte("\n")) != 3 {
			t.Errorf("%s: Logger wrote\n%s\nzap wrote\n%s", format, ours.String(), theirs.String())
		}
	}
}

func TestANilLoggerDiscards(t *testing.T) {
	var l *Logger
	l.Error("nowhere", String("k", "v"))
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
}

type fixedClock time.Time

func (c fixedClock) Now() time.Time                         { return time.Time(c) }
func (c fixedClock) NewTicker(d time.Duration) *time.Ticker { return time.NewTicker(d) }
