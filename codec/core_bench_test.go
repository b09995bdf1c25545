package codec

import (
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// Benchmark inputs: realistic Redis strings per type.
func benchValues(t Type, n int) []string {
	rng := rand.New(rand.NewPCG(42, 42))
	out := make([]string, n)
	for i := range out {
		switch t {
		case Utf8:
			out[i] = "user-" + strconv.Itoa(rng.IntN(1e6)) + "@example.com"
		case Int64:
			out[i] = strconv.FormatInt(rng.Int64N(1e12)-5e11, 10)
		case Float64:
			out[i] = FormatFloat64(rng.NormFloat64() * 1e4)
		case Bool:
			out[i] = []string{"true", "false"}[rng.IntN(2)]
		case Date:
			out[i] = FormatDate(int32(rng.IntN(40000) - 10000))
		case Datetime:
			out[i] = FormatDatetime(rng.Int64N(3e15))
		}
	}
	return out
}

const benchN = 4096

func BenchmarkParse(b *testing.B) {
	parsers := []struct {
		t     Type
		parse func(string) bool
	}{
		{Int64, func(s string) bool { _, ok := ParseInt64(s); return ok }},
		{Float64, func(s string) bool { _, ok := ParseFloat64(s); return ok }},
		{Bool, func(s string) bool { _, ok := ParseBool(s); return ok }},
		{Date, func(s string) bool { _, ok := ParseDate(s); return ok }},
		{Datetime, func(s string) bool { _, ok := ParseDatetime(s); return ok }},
	}
	for _, p := range parsers {
		vals := benchValues(p.t, benchN)
		b.Run(p.t.String(), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if !p.parse(vals[i%benchN]) {
					b.Fatal("parse failed")
				}
			}
		})
	}
	// Short decimals such as prices ("1234.56") take the exact fast path;
	// the float64 case above (16-17 significant digits) mostly does not.
	short := make([]string, benchN)
	rng := rand.New(rand.NewPCG(7, 7))
	for i := range short {
		short[i] = FormatFloat64(float64(rng.IntN(10_000_000)) / 100)
	}
	b.Run("float64-short", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, ok := ParseFloat64(short[i%benchN]); !ok {
				b.Fatal("parse failed")
			}
		}
	})
	// Reference points measured in the same run, to read the figures
	// against the machine's speed: strconv and time.Parse.
	ints, floats, times := benchValues(Int64, benchN), benchValues(Float64, benchN), benchValues(Datetime, benchN)
	b.Run("ref-strconv.ParseInt", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := strconv.ParseInt(ints[i%benchN], 10, 64); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ref-strconv.ParseFloat", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := strconv.ParseFloat(floats[i%benchN], 64); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ref-time.Parse-RFC3339", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, err := time.Parse(time.RFC3339Nano, times[i%benchN]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkFormat(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	ints := make([]int64, benchN)
	floats := make([]float64, benchN)
	dates := make([]int32, benchN)
	times := make([]int64, benchN)
	for i := range ints {
		ints[i] = rng.Int64N(1e12) - 5e11
		floats[i] = rng.NormFloat64() * 1e4
		dates[i] = int32(rng.IntN(40000) - 10000)
		times[i] = rng.Int64N(3e15)
	}
	var sink string
	b.Run("int64", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink = FormatInt64(ints[i%benchN])
		}
	})
	b.Run("float64", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink = FormatFloat64(floats[i%benchN])
		}
	})
	b.Run("bool", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink = FormatBool(i&1 == 0)
		}
	})
	b.Run("date", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink = FormatDate(dates[i%benchN])
		}
	})
	b.Run("datetime", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			sink = FormatDatetime(times[i%benchN])
		}
	})
	_ = sink
}

// benchRows returns n rows of values for schema s.
func benchRows(s *Schema, n int) [][]string {
	cols := make([][]string, len(s.Fields))
	for j, f := range s.Fields {
		cols[j] = benchValues(f.Type, n)
	}
	rows := make([][]string, n)
	for i := range rows {
		rows[i] = make([]string, len(s.Fields))
		for j := range s.Fields {
			rows[i][j] = cols[j][i]
		}
	}
	return rows
}

// runBuilderBench appends rows one by one, cutting a record batch every
// 8192 rows as a scan does; it reports ns and allocations per value.
func runBuilderBench(b *testing.B, s *Schema, meta MetaColumns) {
	rows := benchRows(s, benchN)
	b.ReportAllocs()
	mem := memory.NewGoAllocator()
	rb, err := NewRecordBuilder(mem, s, BuilderOptions{Meta: meta})
	if err != nil {
		b.Fatal(err)
	}
	defer rb.Release()
	n := 0
	for i := 0; b.Loop(); i++ {
		if err := rb.Append("key:123456", rows[i%benchN], nil, -1, uint64(i)); err != nil {
			b.Fatal(err)
		}
		if rb.Len() == 8192 {
			rb.NewRecordBatch().Release()
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(s.Fields)), "ns/value")
}

func BenchmarkRecordBuilderAppend(b *testing.B) {
	for _, t := range Types {
		b.Run(t.String(), func(b *testing.B) {
			runBuilderBench(b, &Schema{Fields: []Field{{"v", t}}}, MetaColumns{})
		})
	}
	// ten mixed columns plus key, TTL and index metadata, as a scan builds them
	mixed := mustSpec(b, "a:utf8,b:int64,c:float64,d:bool,e:date,f:datetime,g:int64,h:float64,i:utf8,j:int64")
	b.Run("mixed10+meta", func(b *testing.B) { runBuilderBench(b, mixed, DefaultMetaColumns()) })
}

func BenchmarkRecordBuilderAppendMap(b *testing.B) {
	s := mustSpec(b, "a:utf8,b:int64,c:float64,d:bool,e:date,f:datetime,g:int64,h:float64,i:utf8,j:int64")
	rows := benchRows(s, benchN)
	maps := make([]map[string]string, len(rows))
	for i, r := range rows {
		maps[i] = map[string]string{}
		for j, f := range s.Fields {
			maps[i][f.Name] = r[j]
		}
	}
	b.ReportAllocs()
	rb, err := NewRecordBuilder(memory.NewGoAllocator(), s, BuilderOptions{Meta: DefaultMetaColumns()})
	if err != nil {
		b.Fatal(err)
	}
	defer rb.Release()
	n := 0
	for i := 0; b.Loop(); i++ {
		if err := rb.AppendMap("key:123456", maps[i%benchN], -1, uint64(i)); err != nil {
			b.Fatal(err)
		}
		if rb.Len() == 8192 {
			rb.NewRecordBatch().Release()
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(s.Fields)), "ns/value")
}

func BenchmarkRowEncoder(b *testing.B) {
	s := mustSpec(b, "a:utf8,b:int64,c:float64,d:bool,e:date,f:datetime,g:int64,h:float64,i:utf8,j:int64")
	rows := benchRows(s, benchN)
	mem := memory.NewGoAllocator()
	rb, err := NewRecordBuilder(mem, s, BuilderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range rows {
		if err := rb.Append("k", r, nil, 0, 0); err != nil {
			b.Fatal(err)
		}
	}
	rec := rb.NewRecordBatch()
	rb.Release()
	defer rec.Release()
	enc, err := NewRowEncoder(rec.Schema(), EncoderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	dst := make([]string, 0, 2*len(s.Fields))
	n := 0
	for i := 0; b.Loop(); i++ {
		if dst, err = enc.AppendRow(dst[:0], rec, i%benchN); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(s.Fields)), "ns/value")
}

func BenchmarkInferrerAddHash(b *testing.B) {
	s := mustSpec(b, "a:utf8,b:int64,c:float64,d:bool,e:date,f:datetime,g:int64,h:float64,i:utf8,j:int64")
	rows := benchRows(s, benchN)
	maps := make([]map[string]string, len(rows))
	for i, r := range rows {
		maps[i] = map[string]string{}
		for j, f := range s.Fields {
			maps[i][f.Name] = r[j]
		}
	}
	in := NewInferrer(DefaultInferOptions())
	b.ReportAllocs()
	n := 0
	for i := 0; b.Loop(); i++ {
		in.AddHash(maps[i%benchN])
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*len(s.Fields)), "ns/value")
}
