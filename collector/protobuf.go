package collector

import (
	"encoding/binary"
	"math"
	"time"

	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/protowire"
)

// The delimited protobuf exposition (what Prometheus asks for first with
// native histograms or scrape_protocols: [PrometheusProto, ...]) of the
// families the collector renders itself. Building them as dto families for
// client_golang's encoder took ~200 ms and ~50 MB of garbage per scrape at
// 10k rate-limit series (a dto.Metric, five dto.LabelPairs and their
// strings per sample), several times the text format's time. These write
// the wire format straight from the collector's state instead, byte for
// byte what protodelim.MarshalTo writes for the dto family client_golang
// would gather (TestProtoMatchesReference): fields in field-number order
// (Go's protobuf marshals them so), proto2 optional fields present even
// when zero, proto3 Timestamp fields absent when zero. A message is
// preceded by its length, so each family is sized before it is written.
// Gauge and counter values are doubles, 8 bytes whatever they are: a
// series' encoding but its value is kept between scrapes (pbArena) and
// the sizes follow from it. Histogram counts are varints, read once and
// kept for both passes.

// Field numbers of io.prometheus.client's messages (client_model's
// metrics.proto) and of google.protobuf.Timestamp. All are below 16: every
// tag is one byte.
const (
	pbFamilyName   protowire.Number = 1
	pbFamilyHelp   protowire.Number = 2
	pbFamilyType   protowire.Number = 3
	pbFamilyMetric protowire.Number = 4

	pbMetricLabel     protowire.Number = 1
	pbMetricGauge     protowire.Number = 2
	pbMetricCounter   protowire.Number = 3
	pbMetricHistogram protowire.Number = 7

	pbLabelName  protowire.Number = 1
	pbLabelValue protowire.Number = 2

	pbValue          protowire.Number = 1 // Gauge.value, Counter.value
	pbCounterCreated protowire.Number = 3

	pbHistCount   protowire.Number = 1
	pbHistSum     protowire.Number = 2
	pbHistBucket  protowire.Number = 3
	pbHistCreated protowire.Number = 15

	pbBucketCount protowire.Number = 1
	pbBucketUpper protowire.Number = 2

	pbSeconds protowire.Number = 1
	pbNanos   protowire.Number = 2
)

// pbDoubleSize is the size of a double field.
const pbDoubleSize = 1 + 8

// pbLen is the size of a length-delimited field of n bytes.
func pbLen(num protowire.Number, n int) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(n)
}

func appendPBLen(b []byte, num protowire.Number, n int) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendVarint(b, uint64(n))
}

func appendPBDouble(b []byte, num protowire.Number, v float64) []byte {
	b = protowire.AppendTag(b, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(b, math.Float64bits(v))
}

func appendPBVarint(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

// pbVarintSize is the size of a varint field.
func pbVarintSize(num protowire.Number, v uint64) int {
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

func pbLabelPairSize(name, value string) int {
	return pbLen(pbLabelName, len(name)) + pbLen(pbLabelValue, len(value))
}

// appendPBLabel appends a Metric.label field.
func appendPBLabel(b []byte, name, value string) []byte {
	b = appendPBLen(b, pbMetricLabel, pbLabelPairSize(name, value))
	b = protowire.AppendTag(b, pbLabelName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, pbLabelValue, protowire.BytesType)
	return protowire.AppendString(b, value)
}

// pbTimestampSize is the size of timestamppb.New(t)'s encoding; a proto3
// message leaves out fields that are zero.
func pbTimestampSize(t time.Time) int {
	n := 0
	if s := t.Unix(); s != 0 {
		n += pbVarintSize(pbSeconds, uint64(s))
	}
	if ns := t.Nanosecond(); ns != 0 {
		n += pbVarintSize(pbNanos, uint64(ns))
	}
	return n
}

func appendPBTimestamp(b []byte, num protowire.Number, t time.Time) []byte {
	b = appendPBLen(b, num, pbTimestampSize(t))
	if s := t.Unix(); s != 0 {
		b = appendPBVarint(b, pbSeconds, uint64(s))
	}
	if ns := t.Nanosecond(); ns != 0 {
		b = appendPBVarint(b, pbNanos, uint64(ns))
	}
	return b
}

// pbFamily writes a family's length prefix and its name, help and type;
// metrics is the size of its metric fields, which must follow.
func (w *expoWriter) pbFamily(name, help string, typ dto.MetricType, metrics int) {
	n := pbLen(pbFamilyName, len(name)) + pbLen(pbFamilyHelp, len(help)) +
		pbVarintSize(pbFamilyType, uint64(typ)) + metrics
	b := protowire.AppendVarint(w.buf, uint64(n))
	b = protowire.AppendTag(b, pbFamilyName, protowire.BytesType)
	b = protowire.AppendString(b, name)
	b = protowire.AppendTag(b, pbFamilyHelp, protowire.BytesType)
	b = protowire.AppendString(b, help)
	w.buf = appendPBVarint(b, pbFamilyType, uint64(typ))
	w.maybeFlush()
}

// pbArena holds what the protobuf exposition writes of each series but its
// value, back to back in exposition order, as labelArena does for the text
// formats: a scrape copies a series' bytes and its value instead of encoding
// (and, to size the family first, measuring) labels and timestamps again,
// reading one buffer sequentially instead of each series' strings across
// the heap. Entry i is b[off[i]:off[i+1]], the rest of a Metric message;
// the value's 8 bytes go at split[i] (at the end when split is nil).
// Built whole, never modified: scrapes share it.
type pbArena struct {
	b          []byte
	off, split []int32
}

// metricSize is the size of series i's Metric field.
func (a *pbArena) metricSize(i int) int {
	return pbLen(pbFamilyMetric, int(a.off[i+1]-a.off[i])+8)
}

// writeMetric writes series i's Metric field with value v.
func (w *expoWriter) writeMetric(a *pbArena, i int, v float64) {
	e := a.b[a.off[i]:a.off[i+1]]
	sp := len(e)
	if a.split != nil {
		sp = int(a.split[i] - a.off[i])
	}
	b := appendPBLen(w.buf, pbFamilyMetric, len(e)+8)
	b = append(b, e[:sp]...)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
	w.buf = append(b, e[sp:]...)
	w.maybeFlush()
}

// gaugePBLabels are the gauges' label names in exposition order, with the
// seriesKey field of each.
var gaugePBLabels = [...]struct {
	name string
	val  func(*seriesKey) string
}{
	{"key", func(k *seriesKey) string { return k.key }},
	{"model", func(k *seriesKey) string { return k.model }},
	{"provider", func(k *seriesKey) string { return k.provider }},
	{"resource", func(k *seriesKey) string { return k.resource }},
	{"window", func(k *seriesKey) string { return k.window }},
}

// gaugePB returns the pbArena of g's series for the four gauge families
// (labels, then the gauge field up to its value), building it if the
// collector has none for g's generation of series. It is built outside
// the collector's lock, which observations take, and kept for the
// following scrapes unless the series changed meanwhile.
func (c *Collector) gaugePB(g *gaugeSnapshot) *pbArena {
	if g.pb != nil {
		return g.pb
	}
	a := &pbArena{off: make([]int32, 1, len(g.samples)+1)}
	if len(g.samples) > 0 {
		// A protobuf label set is its text one plus a few bytes of tags
		// and lengths per label: one allocation.
		a.b = make([]byte, 0, len(g.samples)*(len(g.labels.b)/len(g.samples)+32))
	}
	for i := range g.samples {
		k := g.samples[i].key
		for _, l := range gaugePBLabels {
			a.b = appendPBLabel(a.b, l.name, l.val(k))
		}
		a.b = appendPBLen(a.b, pbMetricGauge, pbDoubleSize)
		a.b = protowire.AppendTag(a.b, pbValue, protowire.Fixed64Type)
		a.off = append(a.off, int32(len(a.b)))
	}
	c.mu.Lock()
	if c.labelsGen == g.labelsGen {
		c.pb, c.pbGen = a, g.labelsGen
	}
	c.mu.Unlock()
	g.pb = a
	return a
}

// writeGaugeProto writes a rate-limit gauge family; nothing when no series
// has the value.
func writeGaugeProto(w *expoWriter, a *pbArena, g *gaugeSnapshot, name, help string, has func(*gaugeSample) bool, val func(*gaugeSample) float64) {
	body := 0
	for i := range g.samples {
		if has(&g.samples[i]) {
			body += a.metricSize(i)
		}
	}
	if body == 0 {
		return
	}
	w.pbFamily(name, help, dto.MetricType_GAUGE, body)
	for i := range g.samples {
		if s := &g.samples[i]; has(s) {
			w.writeMetric(a, i, val(s))
		}
	}
}

func (m *vecMeta) pbLabelsSize(v *labelVals) int {
	n := 0
	for _, p := range m.sorted {
		n += pbLen(pbMetricLabel, pbLabelPairSize(m.labels[p], v[p]))
	}
	return n
}

func (m *vecMeta) appendPBLabels(b []byte, v *labelVals) []byte {
	for _, p := range m.sorted {
		b = appendPBLabel(b, m.labels[p], v[p])
	}
	return b
}

// counterPB returns the pbArena of the family's series: labels, the
// counter field up to its value, then its created timestamp, as
// prometheus.NewConstMetricWithCreatedTimestamp sets them. The caller
// holds idx.scrapeMu and has called sortedSeries.
func (f *counterFamily) counterPB() *pbArena {
	if f.idx.pb != nil {
		return f.idx.pb
	}
	ss := f.idx.order
	a := &pbArena{b: make([]byte, 0, len(f.idx.labels.b)+len(ss)*32),
		off: make([]int32, 1, len(ss)+1), split: make([]int32, len(ss))}
	for i, s := range ss {
		ts := pbTimestampSize(s.created)
		a.b = f.appendPBLabels(a.b, &s.vals)
		a.b = appendPBLen(a.b, pbMetricCounter, pbDoubleSize+pbLen(pbCounterCreated, ts))
		a.b = protowire.AppendTag(a.b, pbValue, protowire.Fixed64Type)
		a.split[i] = int32(len(a.b))
		a.b = appendPBTimestamp(a.b, pbCounterCreated, s.created)
		a.off = append(a.off, int32(len(a.b)))
	}
	f.idx.pb = a
	return a
}

// writeProto writes the family; nothing when it has no series.
func (f *counterFamily) writeProto(w *expoWriter) {
	f.idx.scrapeMu.Lock()
	defer f.idx.scrapeMu.Unlock()
	ss := f.sortedSeries()
	if len(ss) == 0 {
		return
	}
	a := f.counterPB()
	body := 0
	for i := range ss {
		body += a.metricSize(i)
	}
	w.pbFamily(f.name, f.help, dto.MetricType_COUNTER, body)
	for i, s := range ss {
		w.writeMetric(a, i, float64(s.n.Load()))
	}
}

// writeProto writes the family as prometheus.NewConstHistogramWithCreatedTimestamp
// does (no +Inf bucket: count stands for it); nothing when it has no series.
func (f *histogramFamily) writeProto(w *expoWriter) {
	f.idx.scrapeMu.Lock()
	defer f.idx.scrapeMu.Unlock()
	ss := f.sortedSeries()
	if len(ss) == 0 {
		return
	}
	nb := len(f.bounds)
	// Each series read once: counts are varints, so the sizes written
	// first must be those of the values written after.
	type read struct {
		count uint64
		sum   float64
		size  int // of the Histogram message
	}
	reads := make([]read, len(ss))
	cums := make([]uint64, 0, len(ss)*nb)
	body := 0
	for i, s := range ss {
		var cum []uint64
		cum, reads[i].count, reads[i].sum = s.read(cums[len(cums):])
		cums = cums[:len(cums)+nb]
		hn := pbVarintSize(pbHistCount, reads[i].count) + pbDoubleSize +
			pbLen(pbHistCreated, pbTimestampSize(s.created))
		for _, c := range cum {
			hn += pbLen(pbHistBucket, pbVarintSize(pbBucketCount, c)+pbDoubleSize)
		}
		reads[i].size = hn
		body += pbLen(pbFamilyMetric, f.pbLabelsSize(&s.vals)+pbLen(pbMetricHistogram, hn))
	}
	w.pbFamily(f.name, f.help, dto.MetricType_HISTOGRAM, body)
	for i, s := range ss {
		r := &reads[i]
		b := appendPBLen(w.buf, pbFamilyMetric, f.pbLabelsSize(&s.vals)+pbLen(pbMetricHistogram, r.size))
		b = f.appendPBLabels(b, &s.vals)
		b = appendPBLen(b, pbMetricHistogram, r.size)
		b = appendPBVarint(b, pbHistCount, r.count)
		b = appendPBDouble(b, pbHistSum, r.sum)
		for j, c := range cums[i*nb : (i+1)*nb] {
			b = appendPBLen(b, pbHistBucket, pbVarintSize(pbBucketCount, c)+pbDoubleSize)
			b = appendPBVarint(b, pbBucketCount, c)
			b = appendPBDouble(b, pbBucketUpper, f.bounds[j])
		}
		w.buf = appendPBTimestamp(b, pbHistCreated, s.created)
		w.maybeFlush()
	}
}
