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

func benchLines(b *testing.B, format, fixture string) {
	e := newEnv(b, "")
	tl := e.tailer(tailCfg(format, "bench.log"))
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
	c := cpuTime() - c0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	if c > 0 {
		b.ReportMetric(float64(b.N)/c.Seconds(), "lines/cpu-s")
	}
	if n := e.lines("bench.log"); n != b.N {
		b.Fatalf("%d lines ok of %d", n, b.N)
	}
}

func BenchmarkNginx(b *testing.B) { benchLines(b, "nginx", "testdata/nginx.jsonl") }

func BenchmarkEnvoy(b *testing.B) { benchLines(b, "envoy", "testdata/envoy.jsonl") }

func BenchmarkHeadroom(b *testing.B) { benchLines(b, "headroom", "testdata/headroom.jsonl") }

func BenchmarkMapping(b *testing.B) {
	e := newEnv(b, "")
	c := tailCfg("mapping", "bench.log")
	c.ProviderField = "upstream_cluster"
	c.Mapping = &config.Mapping{Time: "start_time", TimeIs: "start", Status: "response_code", Duration: "duration",
		DurationUnit: "ms", HeaderTime: "response_duration", HeaderTimeUnit: "ms", Model: "model", Headers: "headers"}
	tl := e.tailer(c)
	lines := readLines(b, "testdata/envoy.jsonl")
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		tl.Line(lines[i%len(lines)])
	}
	cpu := cpuTime() - c0
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "lines/cpu-s")
}
