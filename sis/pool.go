package sis

import (
	"runtime"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// pool runs a function over the blocks of a particle system on a fixed set
// of worker goroutines that live as long as one filter or sampler run, so
// a step costs two channel operations per worker and no allocation.
//
// Which worker takes which block varies from run to run, but every block's
// work depends only on the block (its particles and its own random stream),
// and the results are reduced over blocks in block order by the caller, so
// the output is bit-identical for any number of workers.
type pool struct {
	workers int
	nblocks int
	next    atomic.Int64
	task    func(block int)
	start   chan struct{}
	done    chan struct{}
	g       errgroup.Group
}

// workerCount resolves a configured worker count: ≤ 0 means GOMAXPROCS.
func workerCount(n int) int {
	if n <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return n
}

// newPool starts workers−1 helper goroutines (the caller is the last
// worker); close must be called to stop them.
func newPool(workers, nblocks int) *pool {
	workers = min(workerCount(workers), nblocks)
	p := &pool{workers: max(workers, 1), nblocks: nblocks}
	if p.workers > 1 {
		p.start = make(chan struct{}, p.workers-1)
		p.done = make(chan struct{}, p.workers-1)
		for range p.workers - 1 {
			p.g.Go(func() error {
				for range p.start {
					p.drain()
					p.done <- struct{}{}
				}
				return nil
			})
		}
	}
	return p
}

// run calls task(b) for every block b, spread over the workers, and returns
// when all have finished. The send on start publishes task to the helpers.
func (p *pool) run(task func(block int)) {
	p.task = task
	p.next.Store(0)
	for range p.workers - 1 {
		p.start <- struct{}{}
	}
	p.drain()
	for range p.workers - 1 {
		<-p.done
	}
	p.task = nil
}

func (p *pool) drain() {
	for {
		b := int(p.next.Add(1) - 1)
		if b >= p.nblocks {
			return
		}
		p.task(b)
	}
}

// close stops the helper goroutines.
func (p *pool) close() {
	if p.start != nil {
		close(p.start)
		p.g.Wait()
		p.start = nil
	}
}
