package tail

import (
	"syscall"
	"testing"
	"time"

	"github.com/headroomhq/headroom/config"
)

// cpuTime is this process's user+system CPU time. The benchmarks report
// lines per CPU second besides lines per wall second, because the shared
// machines they run on are often busy: CPU time is what a line costs.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchLines feeds the fixture's lines round and round through one
// tailer, the whole path of a line (decode, dialect, collector), and
// checks that every one was ok.
func benchLines(b *testing.B, c config.Tail, fixture string) {
	e := newEnv(b, "")
	tl := e.tailer(c)
	lines := readLines(b, fixture)
	var bytes int64
	for _, l := range lines {
		bytes += int64(len(l)) + 1
	}
	b.SetBytes(bytes / int64(len(lines)))
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		tl.Line(lines[i%len(lines)])
	}
	cpu := cpuTime() - c0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)/cpu.Seconds(), "lines/cpu-s")
	}
	if n := e.lines(c.Path); n != b.N {
		b.Fatalf("%d lines ok of %d", n, b.N)
	}
}

func BenchmarkNginx(b *testing.B) {
	benchLines(b, tailCfg(config.FormatNginx, "bench.log"), "testdata/nginx.jsonl")
}

func BenchmarkEnvoy(b *testing.B) {
	benchLines(b, tailCfg(config.FormatEnvoy, "bench.log"), "testdata/envoy.jsonl")
}

func BenchmarkHeadroom(b *testing.B) {
	benchLines(b, tailCfg(config.FormatHeadroom, "bench.log"), "testdata/headroom.jsonl")
}

// BenchmarkMapping reads the Envoy lines through a mapping.
func BenchmarkMapping(b *testing.B) {
	c := tailCfg(config.FormatMapping, "bench.log")
	c.ProviderField = "upstream_cluster"
	c.Mapping = &config.Mapping{Time: "start_time", TimeIs: "start", Status: "response_code", Duration: "duration",
		DurationUnit: "ms", HeaderTime: "response_duration", HeaderTimeUnit: "ms", Model: "model", Headers: "headers"}
	benchLines(b, c, "testdata/envoy.jsonl")
}

// BenchmarkMappingNested reads the same lines rearranged into nested
// objects (testdata/nested.jsonl), through a mapping with dotted paths.
func BenchmarkMappingNested(b *testing.B) {
	c := tailCfg(config.FormatMapping, "bench.log")
	c.ProviderField = "upstream.cluster"
	c.Mapping = &config.Mapping{Time: "ts", TimeIs: "start", Status: "response.status", Duration: "request.timing.duration",
		DurationUnit: "ms", HeaderTime: "request.timing.response_duration", HeaderTimeUnit: "ms", Model: "request.model",
		Headers: "response.headers"}
	benchLines(b, c, "testdata/nested.jsonl")
}
