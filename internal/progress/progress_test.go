package progress

import (
	"bytes"
	"testing"
	"time"
)

func TestSilentGroupWritesNothing(t *testing.T) {
	var buf bytes.Buffer
	g := New(&buf, false)
	b := g.Add("chain 1", 10)
	for range 10 {
		b.Increment()
	}
	b.Abort()
	g.Wait()
	var nilBar *Bar
	nilBar.Increment()
	if buf.Len() != 0 {
		t.Fatalf("wrote %q", buf.String())
	}
}

func TestEnabledGroupDraws(t *testing.T) {
	var buf bytes.Buffer
	g := New(&buf, true)
	b := g.Add("chain 1", 3)
	b.Increment()
	b.IncrBy(2)
	g.Wait()
	if !bytes.Contains(buf.Bytes(), []byte("chain 1")) {
		t.Fatalf("no bar drawn: %q", buf.String())
	}
}

// TestETA: the ETA comes from the time the steps take. Twenty steps of one
// second each, with 80 to go, make 1m20s (with a zero duration per step, as
// before, it read 0s whatever the pace).
func TestETA(t *testing.T) {
	var buf bytes.Buffer
	g := New(&buf, true)
	clock := time.Unix(1000, 0)
	g.now = func() time.Time { return clock }
	b := g.Add("chain 1", 100)
	for range 20 {
		clock = clock.Add(time.Second)
		b.Increment()
	}
	b.Abort()
	g.Wait()
	if !bytes.Contains(buf.Bytes(), []byte("1m20s")) {
		t.Fatalf("no ETA of 1m20s: %q", buf.String())
	}
}
