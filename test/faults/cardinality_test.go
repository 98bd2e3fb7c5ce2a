package faults

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestCardinalityAttack sends calls with a fresh random model and key each
// (20k; 100k with -long): label values stay capped, every folded call is
// counted in headroom_series_dropped_total, and the heap stays flat.
func TestCardinalityAttack(t *testing.T) {
	calls := 20_000
	if *long {
		calls = 100_000
	}
	const models, keys = 200, 100 // the defaults of HEADROOM_MAX_*_PER_PROVIDER
	up := newRawUpstream(t, serveHTTP(func(c net.Conn, _ *http.Request, _ []byte) bool {
		_, err := io.WriteString(c, okResponse(`{"id":"x","usage":{"prompt_tokens":3,"completion_tokens":4}}`))
		return err == nil
	}))
	e := startAgent(t, []provider{{"victim", "openai", up.url()}}, caps(models, keys))

	var next atomic.Int64
	var failed atomic.Int64
	heap := make([]uint64, 0, 4)
	var heapMu sync.Mutex
	checkpoints := map[int64]bool{int64(calls / 4): true, int64(calls / 2): true, int64(calls * 3 / 4): true}
	worker := func(seed uint64) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var body bytes.Buffer
		for {
			i := next.Add(1)
			if i > int64(calls) {
				return
			}
			body.Reset()
			fmt.Fprintf(&body, `{"model":"m-%016x","messages":[]}`, rng.Uint64())
			req, _ := http.NewRequest("POST", e.url("/victim/v1/chat/completions"), bytes.NewReader(body.Bytes()))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", fmt.Sprintf("Bearer sk-attack-%016x", rng.Uint64()))
			resp, err := e.client.Do(req)
			if err != nil {
				failed.Add(1)
				continue
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failed.Add(1)
			}
			if checkpoints[i] {
				heapMu.Lock()
				heap = append(heap, heapAfterGC())
				heapMu.Unlock()
			}
		}
	}
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() { defer wg.Done(); worker(uint64(w)) }()
	}
	wg.Wait()
	end := heapAfterGC()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d calls failed", n, calls)
	}

	_, mfs := e.scrape()
	modelVals, keyVals := map[string]bool{}, map[string]bool{}
	series := 0
	for _, name := range []string{"headroom_ratelimit_limit", "headroom_requests_total", "headroom_tokens_total"} {
		for _, s := range seriesOf(mfs, name) {
			modelVals[s.labels["model"]] = true
			keyVals[s.labels["key"]] = true
			series++
		}
	}
	if len(modelVals) > models+1 {
		t.Errorf("%d distinct model values, cap %d (+ other)", len(modelVals), models)
	}
	if len(keyVals) > keys+1 {
		t.Errorf("%d distinct key values, cap %d (+ other)", len(keyVals), keys)
	}
	// Every call after the first `keys` ones carries a new key: folded.
	if got, want := sum(mfs, "headroom_series_dropped_total", "provider=victim"), float64(calls-keys); got != want {
		t.Errorf("series_dropped_total = %v, want %v", got, want)
	}
	if got := sum(mfs, "headroom_requests_total", "provider=victim"); got != float64(calls) {
		t.Errorf("requests_total = %v, want every one of the %d calls counted", got, calls)
	}
	t.Logf("%d calls: %d series across ratelimit/requests/tokens, %d model and %d key values; heap after GC at 1/4, 1/2, 3/4, end: %v MiB",
		calls, series, len(modelVals), len(keyVals), mib(append(heap, end)...))
	// Flat: from the first checkpoint (caps long filled) to the end, the
	// live heap may wobble but not grow with the number of calls.
	if len(heap) > 0 {
		if growth := int64(end) - int64(heap[0]); growth > 4<<20 {
			t.Errorf("live heap grew by %.1f MiB over %d calls after the caps filled", float64(growth)/(1<<20), calls*3/4)
		}
	}
	e.checkLeaks(up)
}

func heapAfterGC() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func mib(vs ...uint64) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = fmt.Sprintf("%.1f", float64(v)/(1<<20))
	}
	return out
}
