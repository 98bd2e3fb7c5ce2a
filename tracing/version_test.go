package tracing

import (
	"context"
	"runtime/debug"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestVersionFrom(t *testing.T) {
	rev := "4251309f0c1d2e3a4b5c6d7e8f9a0b1c2d3e4f50"
	for _, tc := range []struct {
		name string
		bi   *debug.BuildInfo
		want string
	}{
		{"no build info", nil, "(devel)"},
		{"go install at a tag", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0"},
		{"go build in a clone (pseudo-version)", &debug.BuildInfo{
			Main:     debug.Module{Version: "v0.0.0-20261207101500-4251309f0c1d+dirty"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}},
		}, "v0.0.0-20261207101500-4251309f0c1d+dirty"},
		{"revision only", &debug.BuildInfo{
			Main:     debug.Module{Version: "(devel)"},
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "false"}},
		}, "(devel) 4251309f0c1d"},
		{"revision with local changes", &debug.BuildInfo{
			Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: "true"}},
		}, "(devel) 4251309f0c1d-modified"},
		{"nothing known", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, "(devel)"},
	} {
		if got := versionFrom(tc.bi); got != tc.want {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}

// Without a version stamped through -ldflags (a plain go build, and this
// test binary) spans still carry one: the build info's.
func TestServiceVersionFromBuildInfo(t *testing.T) {
	t.Setenv("OTEL_SERVICE_NAME", "")
	t.Setenv("OTEL_RESOURCE_ATTRIBUTES", "")
	want := BuildVersion()
	if want == "" {
		t.Fatal("BuildVersion is empty")
	}
	exp := tracetest.NewInMemoryExporter()
	p, err := New(context.Background(), Config{Enabled: true, Exporter: "otlp"}, Options{Exporter: exp, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	RecordCall(context.Background(), p.Tracer(), CallInfo{Start: time.Now()})
	p.ForceFlush(context.Background())
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans", len(spans))
	}
	if got := attrMap(spans[0].Resource.Attributes())["service.version"]; got != want {
		t.Errorf("service.version %q, want the build info's %q", got, want)
	}
	if got := spans[0].InstrumentationScope.Version; got != want {
		t.Errorf("scope version %q, want %q", got, want)
	}
}
