package collector

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// The high-cardinality counters and the duration histogram (one series per
// provider × model × key, or provider × model) are not client_golang vecs:
// a vec's series can only be read back through Collect and a dto.Metric per
// series, which with 10k+ series made every scrape allocate tens of MiB and
// spend most of its time in client_golang's sort, checks and encoder. These
// families keep, per series, its label values, its label set already
// rendered for the exposition, and its value; they render straight into
// the exposition (exposition.go) in the order client_golang would sort them
// in, and still implement prometheus.Collector for registries.

// maxVecLabels bounds the label count of a family (all have 2 or 4).
const maxVecLabels = 4

type labelVals [maxVecLabels]string

// vecMeta is what a family knows about its labels.
type vecMeta struct {
	name, help string
	labels     []string // in the order callers pass values
	sorted     []int    // positions of labels, by label name: exposition order
	desc       *prometheus.Desc
}

func newVecMeta(name, help string, labels []string) vecMeta {
	if len(labels) > maxVecLabels {
		panic("collector: too many labels for " + name)
	}
	m := vecMeta{name: name, help: help, labels: labels, desc: prometheus.NewDesc(name, help, labels, nil)}
	for i := range labels {
		m.sorted = append(m.sorted, i)
	}
	slices.SortFunc(m.sorted, func(a, b int) int { return strings.Compare(labels[a], labels[b]) })
	return m
}

// render returns the label set as the exposition writes it, label names
// sorted: {a="x",b="y"}. Values are escaped as client_golang's text and
// OpenMetrics encoders escape them (the two agree on label values).
func (m *vecMeta) render(v *labelVals) string {
	var b strings.Builder
	for i, p := range m.sorted {
		if i == 0 {
			b.WriteByte('{')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(m.labels[p])
		b.WriteString(`="`)
		b.WriteString(escapeLabelValue(v[p]))
		b.WriteByte('"')
	}
	if len(m.sorted) > 0 {
		b.WriteByte('}')
	}
	return b.String()
}

// compare orders two series as client_golang sorts metrics within a
// family: label values compared in the order of the sorted label names.
func (m *vecMeta) compare(a, b *labelVals) int {
	for _, p := range m.sorted {
		if c := strings.Compare(a[p], b[p]); c != 0 {
			return c
		}
	}
	return 0
}

func (m *vecMeta) vals(vs []string) labelVals {
	if len(vs) != len(m.labels) {
		panic("collector: " + m.name + ": wrong number of label values")
	}
	var v labelVals
	for i, s := range vs {
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "\uFFFD")
		}
		v[i] = s
	}
	return v
}

func (m *vecMeta) labelPairs(v *labelVals) []*dto.LabelPair {
	out := make([]*dto.LabelPair, len(m.sorted))
	for i, p := range m.sorted {
		out[i] = &dto.LabelPair{Name: proto.String(m.labels[p]), Value: proto.String(v[p])}
	}
	return out
}

// seriesIndex is a family's series: a map for updates and a list in
// exposition order for scrapes. New series are appended to added under the
// write lock and merged into order by the next scrape, so creating a series
// costs no sort and a scrape sorts only what is new.
type seriesIndex[S any] struct {
	mu    sync.RWMutex
	m     map[labelVals]*S
	order []*S // sorted
	added []*S // not yet in order
	// labels are the rendered label sets of order, in order.
	labels labelArena
	// pb is labels' counterpart for the protobuf format, built by the
	// first protobuf scrape after order changes (nil until then: no memory
	// for it unless someone scrapes protobuf). Guarded by scrapeMu.
	pb *pbArena
	// scrapeMu serialises the merge of added into order.
	scrapeMu sync.Mutex
}

// get returns the series of vs, made by mk (under the write lock) the first
// time. The lookup of an existing series takes only the read lock.
func (idx *seriesIndex[S]) get(m *vecMeta, vs []string, mk func(labelVals) *S) *S {
	var v labelVals
	copy(v[:], vs)
	idx.mu.RLock()
	s := idx.m[v]
	idx.mu.RUnlock()
	if s != nil {
		return s
	}
	v = m.vals(vs)
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if s = idx.m[v]; s == nil {
		s = mk(v)
		idx.m[v] = s
		idx.added = append(idx.added, s)
	}
	return s
}

// labelArena holds rendered label sets back to back, in exposition order.
// A scrape reads them sequentially instead of chasing one string per series
// across the heap (with 10k series, copying the label sets was a third of
// the rendering time). Rebuilt, never modified, when the series change.
type labelArena struct {
	b   []byte
	off []int32 // label set i is b[off[i]:off[i+1]]
}

func (a *labelArena) at(i int) []byte { return a.b[a.off[i]:a.off[i+1]] }

func buildArena[S any](ss []*S, lbl func(*S) string) labelArena {
	n := 0
	for _, s := range ss {
		n += len(lbl(s))
	}
	a := labelArena{b: make([]byte, 0, n), off: make([]int32, 1, len(ss)+1)}
	for _, s := range ss {
		a.b = append(a.b, lbl(s)...)
		a.off = append(a.off, int32(len(a.b)))
	}
	return a
}

// counterFamily is a counter with up to four labels.
type counterFamily struct {
	vecMeta
	idx seriesIndex[counter]
}

type counter struct {
	vals    labelVals
	lbl     string
	created time.Time
	n       atomic.Uint64
}

func newCounterFamily(name, help string, labels ...string) *counterFamily {
	f := &counterFamily{vecMeta: newVecMeta(name, help, labels)}
	f.idx.m = map[labelVals]*counter{}
	return f
}

// get returns the series of the given label values, creating it.
func (f *counterFamily) get(vs ...string) *counter {
	return f.idx.get(&f.vecMeta, vs, func(v labelVals) *counter {
		return &counter{vals: v, lbl: f.render(&v), created: time.Now()}
	})
}

// add adds n to the series of the given label values.
func (f *counterFamily) add(n uint64, vs ...string) { f.get(vs...).n.Add(n) }

// value reads one series (tests).
func (f *counterFamily) value(vs ...string) float64 { return float64(f.get(vs...).n.Load()) }

// sortedSeries brings order (and its labels) up to date and returns it.
// The caller must hold idx.scrapeMu.
func (f *counterFamily) sortedSeries() []*counter {
	return mergeAdded(&f.idx, func(a, b *counter) int { return f.compare(&a.vals, &b.vals) },
		func(s *counter) string { return s.lbl })
}

func mergeAdded[S any](idx *seriesIndex[S], cmpf func(a, b *S) int, lbl func(*S) string) []*S {
	idx.mu.Lock()
	added := idx.added
	idx.added = nil
	idx.mu.Unlock()
	if len(added) == 0 {
		return idx.order
	}
	slices.SortFunc(added, cmpf)
	defer func() { idx.labels, idx.pb = buildArena(idx.order, lbl), nil }()
	if len(idx.order) == 0 {
		idx.order = added
		return idx.order
	}
	merged := make([]*S, 0, len(idx.order)+len(added))
	i, j := 0, 0
	for i < len(idx.order) && j < len(added) {
		if cmpf(idx.order[i], added[j]) <= 0 {
			merged = append(merged, idx.order[i])
			i++
		} else {
			merged = append(merged, added[j])
			j++
		}
	}
	merged = append(merged, idx.order[i:]...)
	merged = append(merged, added[j:]...)
	idx.order = merged
	return merged
}

// Describe implements prometheus.Collector.
func (f *counterFamily) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect implements prometheus.Collector.
func (f *counterFamily) Collect(ch chan<- prometheus.Metric) {
	f.idx.mu.RLock()
	defer f.idx.mu.RUnlock()
	for _, s := range f.idx.m {
		ch <- prometheus.MustNewConstMetricWithCreatedTimestamp(f.desc, prometheus.CounterValue,
			float64(s.n.Load()), s.created, s.vals[:len(f.labels)]...)
	}
}

// write renders the family; nothing when it has no series.
func (f *counterFamily) write(w *expoWriter, om bool) {
	f.idx.scrapeMu.Lock()
	defer f.idx.scrapeMu.Unlock()
	ss := f.sortedSeries()
	if len(ss) == 0 {
		return
	}
	w.header(f.name, f.help, "counter", om)
	for i, s := range ss {
		sample(w, f.name, f.idx.labels.at(i), float64(s.n.Load()), om)
	}
}

// metricFamily builds the family's dto, for the protobuf formats.
func (f *counterFamily) metricFamily() *dto.MetricFamily {
	f.idx.scrapeMu.Lock()
	defer f.idx.scrapeMu.Unlock()
	ss := f.sortedSeries()
	if len(ss) == 0 {
		return nil
	}
	mf := &dto.MetricFamily{Name: proto.String(f.name), Help: proto.String(f.help), Type: dto.MetricType_COUNTER.Enum()}
	for _, s := range ss {
		mf.Metric = append(mf.Metric, &dto.Metric{Label: f.labelPairs(&s.vals),
			Counter: &dto.Counter{Value: proto.Float64(float64(s.n.Load())), CreatedTimestamp: timestamppb.New(s.created)}})
	}
	return mf
}

// histogramFamily is a classic histogram with up to four labels. Each
// series has a mutex, so a scrape reads buckets, count and sum of the same
// set of observations.
type histogramFamily struct {
	vecMeta
	bounds      []float64
	leText      []string // `,le="0.05"}` per bound, and +Inf last
	leOM        []string
	leTextFirst []string // `{le="0.05"}` for label-less series
	leOMFirst   []string
	idx         seriesIndex[histogram]
}

type histogram struct {
	vals    labelVals
	lbl     string
	created time.Time

	mu     sync.Mutex
	counts []uint64 // per bucket, not cumulative; the last is above every bound
	sum    float64
	count  uint64
}

func newHistogramFamily(name, help string, bounds []float64, labels ...string) *histogramFamily {
	f := &histogramFamily{vecMeta: newVecMeta(name, help, labels), bounds: bounds}
	f.idx.m = map[labelVals]*histogram{}
	for _, b := range append(slices.Clone(bounds), math.Inf(+1)) {
		t, o := string(appendTextFloat(nil, b)), string(appendOMFloat(nil, b))
		f.leText = append(f.leText, `,le="`+t+`"}`)
		f.leOM = append(f.leOM, `,le="`+o+`"}`)
		f.leTextFirst = append(f.leTextFirst, `{le="`+t+`"}`)
		f.leOMFirst = append(f.leOMFirst, `{le="`+o+`"}`)
	}
	return f
}

func (f *histogramFamily) get(vs ...string) *histogram {
	return f.idx.get(&f.vecMeta, vs, func(v labelVals) *histogram {
		return &histogram{vals: v, lbl: f.render(&v), created: time.Now(), counts: make([]uint64, len(f.bounds)+1)}
	})
}

// observe records v in the series of the given label values. A value on a
// bound counts in that bound's bucket (le: less or equal), as in client_golang.
func (f *histogramFamily) observe(v float64, vs ...string) {
	f.observeSeries(f.get(vs...), v)
}

// observeSeries records v in s, a series of f.
func (f *histogramFamily) observeSeries(s *histogram, v float64) {
	i := sort.SearchFloat64s(f.bounds, v)
	s.mu.Lock()
	s.counts[i]++
	s.count++
	s.sum += v
	s.mu.Unlock()
}

// read returns cumulative bucket counts (finite bounds), count and sum.
func (s *histogram) read(cum []uint64) ([]uint64, uint64, float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n uint64
	cum = cum[:0]
	for _, c := range s.counts[:len(s.counts)-1] {
		n += c
		cum = append(cum, n)
	}
	return cum, s.count, s.sum
}

func (f *histogramFamily) sortedSeries() []*histogram {
	return mergeAdded(&f.idx, func(a, b *histogram) int { return f.compare(&a.vals, &b.vals) },
		func(s *histogram) string { return s.lbl })
}

// Describe implements prometheus.Collector.
func (f *histogramFamily) Describe(ch chan<- *prometheus.Desc) { ch <- f.desc }

// Collect implements prometheus.Collector.
func (f *histogramFamily) Collect(ch chan<- prometheus.Metric) {
	f.idx.mu.RLock()
	defer f.idx.mu.RUnlock()
	var cum []uint64
	for _, s := range f.idx.m {
		var count uint64
		var sum float64
		cum, count, sum = s.read(cum)
		buckets := make(map[float64]uint64, len(f.bounds))
		for i, b := range f.bounds {
			buckets[b] = cum[i]
		}
		ch <- prometheus.MustNewConstHistogramWithCreatedTimestamp(f.desc, count, sum, buckets, s.created, s.vals[:len(f.labels)]...)
	}
}

func (f *histogramFamily) write(w *expoWriter, om bool) {
	f.idx.scrapeMu.Lock()
	defer f.idx.scrapeMu.Unlock()
	ss := f.sortedSeries()
	if len(ss) == 0 {
		return
	}
	w.header(f.name, f.help, "histogram", om)
	le, leFirst := f.leText, f.leTextFirst
	if om {
		le, leFirst = f.leOM, f.leOMFirst
	}
	bucket, sumName, countName := f.name+"_bucket", f.name+"_sum", f.name+"_count"
	cum := make([]uint64, 0, len(f.bounds))
	for _, s := range ss {
		var count uint64
		var sum float64
		cum, count, sum = s.read(cum)
		prefix := ""
		if s.lbl != "" {
			prefix = s.lbl[:len(s.lbl)-1]
		}
		for i := range len(f.bounds) + 1 {
			n := count
			if i < len(cum) {
				n = cum[i]
			}
			if prefix == "" {
				w.countSample(bucket, "", leFirst[i], n, om)
			} else {
				w.countSample(bucket, prefix, le[i], n, om)
			}
		}
		sample(w, sumName, s.lbl, sum, om)
		w.countSample(countName, s.lbl, "", count, om)
	}
}

func (f *histogramFamily) metricFamily() *dto.MetricFamily {
	f.idx.scrapeMu.Lock()
	defer f.idx.scrapeMu.Unlock()
	ss := f.sortedSeries()
	if len(ss) == 0 {
		return nil
	}
	mf := &dto.MetricFamily{Name: proto.String(f.name), Help: proto.String(f.help), Type: dto.MetricType_HISTOGRAM.Enum()}
	var cum []uint64
	for _, s := range ss {
		var count uint64
		var sum float64
		cum, count, sum = s.read(cum)
		h := &dto.Histogram{SampleCount: proto.Uint64(count), SampleSum: proto.Float64(sum), CreatedTimestamp: timestamppb.New(s.created)}
		for i, b := range f.bounds {
			h.Bucket = append(h.Bucket, &dto.Bucket{CumulativeCount: proto.Uint64(cum[i]), UpperBound: proto.Float64(b)})
		}
		mf.Metric = append(mf.Metric, &dto.Metric{Label: f.labelPairs(&s.vals), Histogram: h})
	}
	return mf
}
