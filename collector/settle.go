package collector

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// settlers are the functions run before every read of the metrics.
//
// The proxy's fast path writes a short answer to its client before it
// records the call, so that recording costs the client nothing. A client
// that has its answer and then reads /metrics must still find its call
// counted; a settler (the proxy's) waits for the calls whose answers are
// out but not yet recorded, which takes microseconds.
type settlers struct {
	mu sync.Mutex
	fs []func()
}

// BeforeRead adds f to what runs before every read of the collector's
// metrics: the exposition (Handler), Gatherer, Snapshot and the registries
// it is Registered with. f must not read the collector.
func (c *Collector) BeforeRead(f func()) {
	s := &c.settlers
	s.mu.Lock()
	s.fs = append(s.fs, f)
	s.mu.Unlock()
}

// settle runs the BeforeRead functions.
func (c *Collector) settle() {
	s := &c.settlers
	s.mu.Lock()
	fs := s.fs
	s.mu.Unlock()
	for _, f := range fs {
		f()
	}
}

// settled is everything the collector registers, as one collector whose
// Collect settles first. (Registered one by one, the families would be
// collected concurrently, some before the settling.)
type settled struct{ c *Collector }

func (s settled) Describe(ch chan<- *prometheus.Desc) {
	for _, m := range s.c.Collectors() {
		m.Describe(ch)
	}
}

func (s settled) Collect(ch chan<- prometheus.Metric) {
	s.c.settle()
	for _, m := range s.c.Collectors() {
		m.Collect(ch)
	}
}
