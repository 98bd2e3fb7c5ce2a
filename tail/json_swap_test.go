package tail

import (
	"testing"

	"github.com/tidwall/gjson"
	"github.com/valyala/fastjson"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/parsers"
)

// BenchmarkJSONSwap compares, on each fixture, this package's decode of a
// line (JSON reading and the format's mapping into a record, everything
// but the dialect and the collector) with two libraries only reading the
// same line and visiting every member: github.com/tidwall/gjson (the one
// the proxy reads bodies with) and github.com/valyala/fastjson. That is a
// lower bound of what a decoder built on either would cost, since it would
// still have to map the members. The decision it backs is written at the
// top of json.go.
//
//	GOMAXPROCS=1 go test -run XXX -bench BenchmarkJSONSwap -benchmem ./tail
func BenchmarkJSONSwap(b *testing.B) {
	for _, f := range []struct{ format, fixture string }{
		{config.FormatNginx, "testdata/nginx.jsonl"},
		{config.FormatEnvoy, "testdata/envoy.jsonl"},
		{config.FormatHeadroom, "testdata/headroom.jsonl"},
	} {
		c := tailCfg(f.format, "bench.log")
		s, err := SchemaFor(&c)
		if err != nil {
			b.Fatal(err)
		}
		lines := readLines(b, f.fixture)
		strs := make([]string, len(lines))
		var size int
		for i, l := range lines {
			strs[i] = string(l)
			size += len(l)
		}
		b.Run(f.format+"/own-decode", func(b *testing.B) {
			in := interner{m: map[string]string{}}
			rec := newRecord()
			var res parsers.Result
			b.SetBytes(int64(size / len(lines)))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				rec.reset()
				res.Reset()
				if r := s.decode(strs[i%len(strs)], rec, &res, &in); r != ResultOK {
					b.Fatal(r)
				}
				i++
			}
		})
		b.Run(f.format+"/fastjson-parse", func(b *testing.B) {
			var p fastjson.Parser
			b.SetBytes(int64(size / len(lines)))
			b.ReportAllocs()
			i := 0
			var n int
			var visit func(k []byte, v *fastjson.Value)
			visit = func(k []byte, v *fastjson.Value) {
				n += len(k)
				switch v.Type() {
				case fastjson.TypeObject:
					o, _ := v.Object()
					o.Visit(visit)
				case fastjson.TypeString:
					n += len(v.GetStringBytes())
				}
			}
			for b.Loop() {
				v, err := p.ParseBytes(lines[i%len(lines)])
				if err != nil {
					b.Fatal(err)
				}
				o, _ := v.Object()
				o.Visit(visit)
				i++
			}
		})
		b.Run(f.format+"/gjson-walk", func(b *testing.B) {
			b.SetBytes(int64(size / len(lines)))
			b.ReportAllocs()
			i := 0
			var n int
			var visit func(k, v gjson.Result) bool
			visit = func(k, v gjson.Result) bool {
				n += len(k.Raw)
				switch {
				case v.IsObject():
					v.ForEach(visit)
				case v.Type == gjson.String:
					n += len(v.Raw)
				}
				return true
			}
			for b.Loop() {
				gjson.Parse(strs[i%len(strs)]).ForEach(visit)
				i++
			}
		})
	}
}
