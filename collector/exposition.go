package collector

import (
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// The /metrics exposition. With 10k rate-limit series a scrape is ~55k
// samples; through client_golang (a dto.Metric per sample, sorting them by
// label pairs, consistency checks, then the text encoder) it took 0.7 s and
// left tens of MiB of garbage per scrape. Even client_golang's encoders
// alone, given the dto families, take 60 to 120 ms and 42 to 48 MB per
// scrape in every format (BenchmarkScrapeClientGolang), over the 50 ms
// target at 10k series; rendering them here takes 2 to 3 ms and 50 KB
// (BenchmarkScrape10k, docs/benchmarks.md). Handler instead renders the
// collector's high-cardinality families itself, from label sets rendered
// once per series and kept in exposition order, and has client_golang
// encode everything else. The output is byte for byte what client_golang
// writes for the same metrics (text 0.0.4 and OpenMetrics 1.0.0/0.0.1, see
// TestExpositionGolden; delimited protobuf, see protobuf.go). The protobuf
// text formats, for debugging, get dto families built from the same state.

// HandlerOpts tune Handler.
type HandlerOpts struct {
	// ErrorLog receives errors gathering or writing metrics, as
	// promhttp.HandlerOpts.ErrorLog does.
	ErrorLog promhttp.Logger
}

// Handler serves rest's metrics and the collector's on one /metrics
// endpoint, with promhttp.HandlerFor's content negotiation (text,
// OpenMetrics, protobuf; gzip), its name[] filter and its error handling
// (a gathering error is a 500). rest must not have the collector
// registered; families of the collector's names in it are skipped.
func (c *Collector) Handler(rest prometheus.Gatherer, opts HandlerOpts) http.Handler {
	return &handler{c: c, rest: rest, opts: opts}
}

type handler struct {
	c    *Collector
	rest prometheus.Gatherer
	opts HandlerOpts
}

// ownFamily is a family the exposition renders itself.
type ownFamily struct {
	name string
	// write renders the family (nothing when it has no series).
	write func(w *expoWriter, om bool, g *gaugeSnapshot)
	// writeProto encodes it as a delimited protobuf MetricFamily (nothing
	// when it has no series).
	writeProto func(w *expoWriter, g *gaugeSnapshot)
	// metricFamily builds it as a dto (nil when it has no series).
	metricFamily func(g *gaugeSnapshot) *dto.MetricFamily
}

func (c *Collector) ownFamilies() []ownFamily {
	gauge := func(name, help string, has func(*gaugeSample) bool, val func(*gaugeSample) float64) ownFamily {
		return ownFamily{name: name,
			write: func(w *expoWriter, om bool, g *gaugeSnapshot) {
				header := false
				for i := range g.samples {
					s := &g.samples[i]
					if !has(s) {
						continue
					}
					if !header {
						w.header(name, help, "gauge", om)
						header = true
					}
					sample(w, name, g.labels.at(i), val(s), om)
				}
			},
			writeProto: func(w *expoWriter, g *gaugeSnapshot) { writeGaugeProto(w, c.gaugePB(g), g, name, help, has, val) },
			metricFamily: func(g *gaugeSnapshot) *dto.MetricFamily {
				mf := &dto.MetricFamily{Name: proto.String(name), Help: proto.String(help), Type: dto.MetricType_GAUGE.Enum()}
				for i := range g.samples {
					s := &g.samples[i]
					if has(s) {
						k := s.key
						mf.Metric = append(mf.Metric, &dto.Metric{Label: []*dto.LabelPair{
							{Name: proto.String("key"), Value: proto.String(k.key)},
							{Name: proto.String("model"), Value: proto.String(k.model)},
							{Name: proto.String("provider"), Value: proto.String(k.provider)},
							{Name: proto.String("resource"), Value: proto.String(k.resource)},
							{Name: proto.String("window"), Value: proto.String(k.window)},
						}, Gauge: &dto.Gauge{Value: proto.Float64(val(s))}})
					}
				}
				if len(mf.Metric) == 0 {
					return nil
				}
				return mf
			}}
	}
	counter := func(f *counterFamily) ownFamily {
		return ownFamily{name: f.name,
			write:        func(w *expoWriter, om bool, _ *gaugeSnapshot) { f.write(w, om) },
			writeProto:   func(w *expoWriter, _ *gaugeSnapshot) { f.writeProto(w) },
			metricFamily: func(*gaugeSnapshot) *dto.MetricFamily { return f.metricFamily() }}
	}
	own := []ownFamily{
		gauge("headroom_ratelimit_limit", "Rate limit reported by the provider.",
			func(s *gaugeSample) bool { return s.hasLimit }, func(s *gaugeSample) float64 { return s.limit }),
		gauge("headroom_ratelimit_remaining", "Capacity left in the window, as reported by the provider.",
			func(s *gaugeSample) bool { return s.hasRemaining }, func(s *gaugeSample) float64 { return s.remaining }),
		gauge("headroom_ratelimit_reset_timestamp_seconds", "Unix time when capacity returns, on Headroom's clock.",
			func(s *gaugeSample) bool { return s.hasReset }, func(s *gaugeSample) float64 { return s.reset }),
		gauge("headroom_ratelimit_observed_timestamp_seconds", "Unix time of the response that carried the observation.",
			func(s *gaugeSample) bool { return true }, func(s *gaugeSample) float64 { return s.observed }),
		counter(c.requests), counter(c.ratelimited), counter(c.tokens),
		{name: c.duration.name,
			write:        func(w *expoWriter, om bool, _ *gaugeSnapshot) { c.duration.write(w, om) },
			writeProto:   func(w *expoWriter, _ *gaugeSnapshot) { c.duration.writeProto(w) },
			metricFamily: func(*gaugeSnapshot) *dto.MetricFamily { return c.duration.metricFamily() }},
	}
	// The descriptors and the names above must agree (the documentation
	// test reads the descriptors).
	for _, d := range []*prometheus.Desc{c.descLimit, c.descRemaining, c.descReset, c.descObserved} {
		found := false
		for _, f := range own {
			found = found || strings.Contains(d.String(), `fqName: "`+f.name+`"`)
		}
		if !found {
			panic("collector: no exposition for " + d.String())
		}
	}
	slices.SortFunc(own, func(a, b ownFamily) int { return strings.Compare(a.name, b.name) })
	return own
}

// gaugeSnapshot is the rate-limit state at one instant, in exposition
// order, copied under the collector's lock so that rendering does not hold
// it: the four gauge families of a scrape show the same observations.
type gaugeSnapshot struct {
	samples []gaugeSample
	labels  labelArena // label set of sample i: labels.at(i)
	// labelsGen is the generation of labels; pb its protobuf counterpart
	// (nil until Collector.gaugePB builds or finds it).
	labelsGen uint64
	pb        *pbArena
}

type gaugeSample struct {
	key                               *seriesKey // immutable once created
	limit, remaining, reset, observed float64
	hasLimit, hasRemaining, hasReset  bool
}

var snapshotPool = sync.Pool{New: func() any { return new(gaugeSnapshot) }}

// snapshotGauges drops expired series, brings the exposition order up to
// date and copies the state.
func (c *Collector) snapshotGauges(g *gaugeSnapshot) {
	now := c.opts.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	// Series created since the last scrape, sorted, merged into order.
	added := c.added[:0]
	for _, s := range c.added {
		if !s.gone {
			added = append(added, s)
		}
	}
	c.added = nil
	slices.SortFunc(added, func(a, b *seriesState) int { return a.key.compare(&b.key) })
	var merged []*seriesState
	changed := len(added) > 0
	keep := func(s *seriesState) {
		if s.gone {
			changed = true
			return
		}
		if now.Sub(s.observed) > s.ttl {
			c.deleteSeries(s)
			changed = true
			return
		}
		merged = append(merged, s)
	}
	if len(added) == 0 {
		// Compact in place.
		merged = c.order[:0]
		for _, s := range c.order {
			keep(s)
		}
		clear(c.order[len(merged):])
	} else {
		merged = make([]*seriesState, 0, len(c.order)+len(added))
		i, j := 0, 0
		for i < len(c.order) || j < len(added) {
			if j == len(added) || (i < len(c.order) && c.order[i].key.compare(&added[j].key) <= 0) {
				keep(c.order[i])
				i++
			} else {
				keep(added[j])
				j++
			}
		}
	}
	c.order = merged
	if changed || len(c.labels.off) != len(merged)+1 {
		c.labels = buildArena(merged, func(s *seriesState) string { return s.lbl })
		c.labelsGen++
		c.pb = nil
	}
	g.labels, g.labelsGen = c.labels, c.labelsGen
	if c.pbGen == c.labelsGen {
		g.pb = c.pb
	}
	g.samples = slices.Grow(g.samples[:0], len(merged))
	for _, s := range merged {
		g.samples = append(g.samples, gaugeSample{key: &s.key,
			limit: s.limit, remaining: s.remaining, reset: unixSeconds(s.reset), observed: unixSeconds(s.observed),
			hasLimit: s.hasLimit, hasRemaining: s.hasRemaining, hasReset: !s.reset.IsZero()})
	}
}

func (h *handler) logf(format string, args ...any) {
	if h.opts.ErrorLog != nil {
		h.opts.ErrorLog.Println(fmt.Sprintf(format, args...))
	}
}

// httpError answers a gathering error the way promhttp does.
func httpError(rsp http.ResponseWriter, err error) {
	rsp.Header().Del("Content-Encoding")
	http.Error(rsp, "An error has occurred while serving metrics:\n\n"+err.Error(), http.StatusInternalServerError)
}

func (h *handler) ServeHTTP(rsp http.ResponseWriter, req *http.Request) {
	c := h.c
	owned := func(name string) bool {
		_, found := slices.BinarySearchFunc(c.own, name, func(f ownFamily, n string) int { return strings.Compare(f.name, n) })
		return found
	}
	var mfs []*dto.MetricFamily
	if h.rest != nil {
		rest, err := h.rest.Gather()
		if err != nil {
			h.logf("error gathering metrics: %v", err)
			httpError(rsp, err)
			return
		}
		for _, mf := range rest {
			if !owned(mf.GetName()) {
				mfs = append(mfs, mf)
			}
		}
	}
	low, err := c.low.Gather()
	if err != nil {
		h.logf("error gathering metrics: %v", err)
		httpError(rsp, err)
		return
	}
	mfs = append(mfs, low...)
	slices.SortStableFunc(mfs, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })

	format := expfmt.NegotiateAccept(req.Header, expfmt.DefaultOpenMetricsAcceptedFormats()...)
	hdr := rsp.Header()
	hdr.Add("Vary", "Accept")
	hdr.Add("Vary", "Accept-Encoding")
	hdr.Set("Content-Type", string(format))
	var out io.Writer = rsp
	if acceptsGzip(req) {
		hdr.Set("Content-Encoding", "gzip")
		gz := gzipPool.Get().(*gzip.Writer)
		gz.Reset(rsp)
		defer func() {
			gz.Close()
			gz.Reset(nil)
			gzipPool.Put(gz)
		}()
		out = gz
	}
	var filter map[string]bool
	if req.URL != nil {
		if names := req.URL.Query()["name[]"]; len(names) > 0 {
			filter = map[string]bool{}
			for _, n := range names {
				filter[n] = true
			}
		}
	}

	w := expoWriterPool.Get().(*expoWriter)
	w.reset(out)
	defer func() {
		w.reset(nil)
		expoWriterPool.Put(w)
	}()
	enc := expfmt.NewEncoder(w, format)
	g := snapshotPool.Get().(*gaugeSnapshot)
	defer func() {
		clear(g.samples)
		g.labels, g.pb = labelArena{}, nil
		snapshotPool.Put(g)
	}()
	c.snapshotGauges(g)

	ft := format.FormatType()
	render := ft == expfmt.TypeTextPlain ||
		(ft == expfmt.TypeOpenMetrics && (format.Version() == expfmt.OpenMetricsVersion_1_0_0 || format.Version() == expfmt.OpenMetricsVersion_0_0_1))
	om := ft == expfmt.TypeOpenMetrics
	pb := ft == expfmt.TypeProtoDelim
	i, j := 0, 0
	for i < len(mfs) || j < len(c.own) {
		if w.err != nil {
			break
		}
		if j == len(c.own) || (i < len(mfs) && mfs[i].GetName() < c.own[j].name) {
			mf := mfs[i]
			i++
			if filter != nil && !filter[mf.GetName()] {
				continue
			}
			if err := enc.Encode(mf); err != nil {
				h.logf("error encoding and sending metric family: %v", err)
				return
			}
			continue
		}
		f := &c.own[j]
		j++
		if filter != nil && !filter[f.name] {
			continue
		}
		if render {
			f.write(w, om, g)
		} else if pb {
			f.writeProto(w, g)
		} else if mf := f.metricFamily(g); mf != nil {
			if err := enc.Encode(mf); err != nil {
				h.logf("error encoding and sending metric family: %v", err)
				return
			}
		}
	}
	if closer, ok := enc.(expfmt.Closer); ok && w.err == nil {
		// OpenMetrics' final "# EOF".
		if err := closer.Close(); err != nil {
			h.logf("error encoding and sending metric family: %v", err)
			return
		}
	}
	w.flush()
	if w.err != nil {
		h.logf("error encoding and sending metric family: %v", w.err)
	}
}

// gzipPool holds the writers of gzipped scrapes: klauspost/compress at its
// fastest level compresses the 7 MiB of a 10k-series scrape in about a
// third of the time compress/gzip takes at any level and in a fifth of
// promhttp's (docs/benchmarks.md), on one core.
var gzipPool = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

// acceptsGzip reads Accept-Encoding as promhttp does (gddo's
// NegotiateContentEncoding with the offers identity, gzip): gzip when it is
// named (or *) with a weight above identity's, and not with q=0.
func acceptsGzip(r *http.Request) bool {
	best, bestQ := "identity", -1.0
	specs := parseAcceptEncoding(r.Header.Values("Accept-Encoding"))
	for _, offer := range []string{"identity", "gzip"} {
		for _, s := range specs {
			if s.q > bestQ && (s.value == "*" || s.value == offer) {
				best, bestQ = offer, s.q
			}
		}
	}
	return best == "gzip" && bestQ != 0
}

type encodingSpec struct {
	value string
	q     float64
}

func parseAcceptEncoding(values []string) []encodingSpec {
	var specs []encodingSpec
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			name, params, _ := strings.Cut(part, ";")
			name = strings.ToLower(strings.TrimSpace(name))
			if name == "" {
				continue
			}
			q := 1.0
			for p := range strings.SplitSeq(params, ";") {
				k, val, ok := strings.Cut(p, "=")
				if ok && strings.TrimSpace(k) == "q" {
					if f, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
						q = f
					}
				}
			}
			specs = append(specs, encodingSpec{name, q})
		}
	}
	return specs
}

// expoWriter buffers the exposition and passes it on in pieces of about
// 32 KiB. It has the methods expfmt's encoders look for, so they write into
// it directly.
type expoWriter struct {
	buf []byte
	out io.Writer
	err error
}

const expoFlushAt = 32 << 10

var expoWriterPool = sync.Pool{New: func() any { return &expoWriter{buf: make([]byte, 0, expoFlushAt+4<<10)} }}

func (w *expoWriter) reset(out io.Writer) {
	w.buf, w.out, w.err = w.buf[:0], out, nil
}

func (w *expoWriter) flush() {
	if len(w.buf) > 0 && w.err == nil {
		_, w.err = w.out.Write(w.buf)
	}
	w.buf = w.buf[:0]
}

func (w *expoWriter) maybeFlush() {
	if len(w.buf) >= expoFlushAt {
		w.flush()
	}
}

func (w *expoWriter) Write(p []byte) (int, error) {
	w.buf = append(w.buf, p...)
	w.maybeFlush()
	return len(p), w.err
}

func (w *expoWriter) WriteString(s string) (int, error) {
	w.buf = append(w.buf, s...)
	w.maybeFlush()
	return len(s), w.err
}

func (w *expoWriter) WriteByte(b byte) error {
	w.buf = append(w.buf, b)
	w.maybeFlush()
	return w.err
}

func (w *expoWriter) WriteRune(r rune) (int, error) {
	n := len(w.buf)
	w.buf = utf8.AppendRune(w.buf, r)
	n = len(w.buf) - n
	w.maybeFlush()
	return n, w.err
}

// header writes a family's HELP and TYPE lines. In OpenMetrics a counter's
// family name drops _total and HELP escapes double quotes too.
func (w *expoWriter) header(name, help, typ string, om bool) {
	if om && typ == "counter" {
		name = strings.TrimSuffix(name, "_total")
	}
	w.buf = append(w.buf, "# HELP "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = appendEscaped(w.buf, help, om)
	w.buf = append(w.buf, "\n# TYPE "...)
	w.buf = append(w.buf, name...)
	w.buf = append(w.buf, ' ')
	w.buf = append(w.buf, typ...)
	w.buf = append(w.buf, '\n')
	w.maybeFlush()
}

// sample writes `name{labels} value`.
func sample[L string | []byte](w *expoWriter, name string, lbl L, v float64, om bool) {
	b := append(w.buf, name...)
	b = append(b, lbl...)
	b = append(b, ' ')
	if om {
		b = appendOMFloat(b, v)
	} else {
		b = appendTextFloat(b, v)
	}
	w.buf = append(b, '\n')
	w.maybeFlush()
}

// countSample writes a histogram bucket or count: lbl then suffix (the le
// label) and n, which OpenMetrics writes as an integer and the text format
// as a float.
func (w *expoWriter) countSample(name, lbl, suffix string, n uint64, om bool) {
	b := append(w.buf, name...)
	b = append(b, lbl...)
	b = append(b, suffix...)
	b = append(b, ' ')
	if om {
		b = strconv.AppendUint(b, n, 10)
	} else {
		b = appendTextFloat(b, float64(n))
	}
	w.buf = append(b, '\n')
	w.maybeFlush()
}

// appendTextFloat formats as expfmt's text encoder does.
func appendTextFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, '1')
	case f == 0:
		return append(b, '0')
	case f == -1:
		return append(b, "-1"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	case f > -1e6 && f < 1e6 && f == math.Trunc(f):
		// What 'g' gives for integers below 1e6 (exponent < 6), faster.
		return strconv.AppendInt(b, int64(f), 10)
	default:
		return strconv.AppendFloat(b, f, 'g', -1, 64)
	}
}

// appendOMFloat formats as expfmt's OpenMetrics encoder does: like the text
// format, with ".0" on integers.
func appendOMFloat(b []byte, f float64) []byte {
	switch {
	case f == 1:
		return append(b, "1.0"...)
	case f == 0:
		return append(b, "0.0"...)
	case f == -1:
		return append(b, "-1.0"...)
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	case f > -1e6 && f < 1e6 && f == math.Trunc(f):
		return append(strconv.AppendInt(b, int64(f), 10), ".0"...)
	default:
		n := len(b)
		b = strconv.AppendFloat(b, f, 'g', -1, 64)
		for _, c := range b[n:] {
			if c == 'e' || c == '.' {
				return b
			}
		}
		return append(b, ".0"...)
	}
}

// appendEscaped escapes a HELP text: backslash and newline, and in
// OpenMetrics double quotes too.
func appendEscaped(b []byte, s string, quotes bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quotes:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// escapeLabelValue escapes a label value as both encoders do.
func escapeLabelValue(s string) string {
	if !strings.ContainsAny(s, "\\\n\"") {
		return s
	}
	return string(appendEscaped(nil, s, true))
}
