package backfill

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// barRedraw is how often the progress bar is redrawn on a terminal.
const barRedraw = 250 * time.Millisecond

// progress shows a run's counters on stderr until stop: a bar redrawn in place
// when stderr is a terminal, a line every interval otherwise (logs, docker exec
// without -t), so a log never fills with carriage returns.
type progress struct {
	rep   *reporter
	total int64
	w     io.Writer
	bar   bool
	done  chan struct{}
	ended chan struct{}
}

func startProgress(rep *reporter, total int64, stderr io.Writer, interval time.Duration) *progress {
	p := &progress{rep: rep, total: total, w: stderr, done: make(chan struct{}), ended: make(chan struct{})}
	if f, ok := stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = true
		interval = barRedraw
	}
	go p.loop(interval)
	return p
}

func (p *progress) loop(interval time.Duration) {
	defer close(p.ended)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-p.done:
			if p.bar {
				p.draw()
				fmt.Fprintln(p.w)
			}
			return
		case <-t.C:
			if p.bar {
				p.draw()
			} else {
				fmt.Fprintln(p.w, p.line())
			}
		}
	}
}

// stop ends the display; the final summary follows it.
func (p *progress) stop() {
	close(p.done)
	<-p.ended
}

// line is the log form; its keys match the summary's.
func (p *progress) line() string {
	r := p.rep
	scanned := r.scanned.Load()
	secs := time.Since(r.start).Seconds()
	rate := 0.0
	if secs > 0 {
		rate = float64(r.done.Load()) / secs
	}
	return fmt.Sprintf("progress mode=%s scanned=%d/%d %s=%d skipped=%d failed=%d rows_per_second=%.0f",
		r.mode, scanned, p.total, doneKey(r.mode), r.done.Load(), r.skipped.Load(), r.failed.Load(), rate)
}

func (p *progress) draw() {
	const width = 30
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.rep.scanned.Load())/float64(p.total), 1)
	}
	filled := int(frac * width)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%% %s", strings.Repeat("#", filled), strings.Repeat(".", width-filled), frac*100,
		strings.TrimPrefix(p.line(), "progress "))
}
