package progress

import (
	"bytes"
	"testing"
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
