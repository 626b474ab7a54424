// Package progress draws progress bars on stderr for long runs, one bar per
// chain, shard or task, only when stderr is a terminal: in pipes, files and
// CI a Group is silent and costs nothing.
//
// It wraps github.com/vbauerster/mpb/v8, which redraws many concurrent bars
// safely from several goroutines; writing that (cursor movement, throttled
// redraws, terminal width) ourselves would be more code to keep right.
package progress

import (
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
)

// Group is a set of bars drawn together. The zero Group and a Group made
// with enabled false draw nothing.
type Group struct {
	p   *mpb.Progress
	mu  sync.Mutex
	now func() time.Time // the clock of the ETAs (tests replace it)
}

// New returns a group drawing to w when enabled is true.
func New(w io.Writer, enabled bool) *Group {
	if !enabled || w == nil {
		return &Group{}
	}
	return &Group{p: mpb.New(mpb.WithOutput(w), mpb.WithWidth(40), mpb.WithAutoRefresh()), now: time.Now}
}

// Bar is one progress bar. A nil *Bar or a bar of a silent group ignores
// every call, so callers never need to check. Its methods may be called
// from several goroutines.
type Bar struct {
	b   *mpb.Bar
	now func() time.Time
	// last is the time (Unix nanoseconds) of the last advance: the ETA is
	// a moving average of the time per step, which mpb's EWMA decorator
	// learns only from the durations it is given.
	last atomic.Int64
}

// Add adds a bar counting to total, labelled with name.
func (g *Group) Add(name string, total int) *Bar {
	if g == nil || g.p == nil {
		return &Bar{}
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.p.AddBar(int64(total),
		mpb.PrependDecorators(decor.Name(name, decor.WCSyncSpaceR), decor.CountersNoUnit("%d/%d", decor.WCSyncSpace)),
		mpb.AppendDecorators(decor.Percentage(decor.WCSyncSpace), decor.Name(" "), decor.EwmaETA(decor.ET_STYLE_GO, 30)),
	)
	bar := &Bar{b: b, now: g.now}
	bar.last.Store(g.now().UnixNano())
	return bar
}

// Increment advances the bar by one.
func (b *Bar) Increment() { b.IncrBy(1) }

// IncrBy advances the bar by n, telling the ETA how long the n steps took
// (the time since the previous advance).
func (b *Bar) IncrBy(n int) {
	if b != nil && b.b != nil {
		now := b.now().UnixNano()
		b.b.EwmaIncrBy(n, time.Duration(now-b.last.Swap(now)))
	}
}

// SetTotal changes the bar's total; with complete set the bar finishes.
func (b *Bar) SetTotal(total int, complete bool) {
	if b != nil && b.b != nil {
		b.b.SetTotal(int64(total), complete)
	}
}

// Abort stops drawing the bar, leaving its last state on screen.
func (b *Bar) Abort() {
	if b != nil && b.b != nil {
		b.b.Abort(false)
	}
}

// Wait finishes drawing: it returns once every bar has completed or been
// aborted. Call it before printing anything else to the same writer.
func (g *Group) Wait() {
	if g != nil && g.p != nil {
		g.p.Wait()
	}
}
