package codec

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// File-format benchmarks on a generated 1M-row × 10-column table of mixed
// types (4 strings, 2 int64, 2 float64, bool, date, datetime minus one
// string = 10 columns), as the issue asks. Run with:
//
//	go test ./codec/ -run '^$' -bench 'Read|Write' -benchtime 3x
const fileBenchRows = 1_000_000

var fileBenchSchema = func() *arrow.Schema {
	s, err := NewSchema(
		Field{Name: "id", Type: Int64},
		Field{Name: "name", Type: Utf8},
		Field{Name: "city", Type: Utf8},
		Field{Name: "score", Type: Float64},
		Field{Name: "count", Type: Int64},
		Field{Name: "active", Type: Bool},
		Field{Name: "day", Type: Date},
		Field{Name: "at", Type: Datetime},
		Field{Name: "note", Type: Utf8},
		Field{Name: "ratio", Type: Float64},
	)
	if err != nil {
		panic(err)
	}
	as, err := s.ArrowSchema(MetaColumns{})
	if err != nil {
		panic(err)
	}
	return as
}()

var fileBenchCities = []string{"Berlin", "São Paulo", "Tōkyō", "New York", "Lagos", "Zürich", "Mumbai", "Sydney"}

// fileBenchBatches calls fn with the benchmark table in batches of 64Ki rows.
func fileBenchBatches(tb testing.TB, fn func(arrow.RecordBatch)) {
	rng := rand.New(rand.NewPCG(42, 42))
	b := array.NewRecordBuilder(memory.DefaultAllocator, fileBenchSchema)
	defer b.Release()
	const batch = 1 << 16
	for start := 0; start < fileBenchRows; start += batch {
		for i := start; i < min(start+batch, fileBenchRows); i++ {
			b.Field(0).(*array.Int64Builder).Append(int64(i))
			b.Field(1).(*array.StringBuilder).Append(fmt.Sprintf("user-%07d", rng.IntN(10_000_000)))
			b.Field(2).(*array.StringBuilder).Append(fileBenchCities[rng.IntN(len(fileBenchCities))])
			b.Field(3).(*array.Float64Builder).Append(float64(rng.IntN(1_000_000)) / 100)
			b.Field(4).(*array.Int64Builder).Append(rng.Int64N(1_000_000_000))
			b.Field(5).(*array.BooleanBuilder).Append(rng.IntN(2) == 0)
			b.Field(6).(*array.Date32Builder).Append(arrow.Date32(18000 + rng.IntN(3000)))
			b.Field(7).(*array.TimestampBuilder).Append(arrow.Timestamp(1_600_000_000_000_000 + rng.Int64N(200_000_000_000_000)))
			if rng.IntN(10) == 0 {
				b.Field(8).AppendNull()
			} else {
				b.Field(8).(*array.StringBuilder).Append(fmt.Sprintf("note %d, \"quoted\" and plain", rng.IntN(1000)))
			}
			b.Field(9).(*array.Float64Builder).Append(rng.Float64())
		}
		rec := b.NewRecordBatch()
		fn(rec)
		rec.Release()
	}
}

// fileBenchFile writes the benchmark table to dir in the format of ext.
func fileBenchFile(b *testing.B, ext string) (string, int64) {
	b.Helper()
	p := filepath.Join(b.TempDir(), "bench"+ext)
	w, err := CreateRecordWriter(p, fileBenchSchema, WriteOptions{})
	if err != nil {
		b.Fatal(err)
	}
	fileBenchBatches(b, func(rec arrow.RecordBatch) {
		if err := w.Write(rec); err != nil {
			b.Fatal(err)
		}
	})
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		b.Fatal(err)
	}
	return p, st.Size()
}

// processCPU returns the CPU time (user + system) of this process so far.
// On a shared machine wall time varies with other load; rows per CPU second
// is the steadier figure.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportRates(b *testing.B, cpu0 time.Duration, size int64) {
	rows := float64(fileBenchRows) * float64(b.N)
	b.ReportMetric(rows/b.Elapsed().Seconds(), "rows/s")
	if cpu := (processCPU() - cpu0).Seconds(); cpu > 0 {
		b.ReportMetric(rows/cpu, "rows/cpu-s")
		b.ReportMetric(float64(size)*float64(b.N)/1e6/cpu, "MB/cpu-s")
	}
	b.ReportMetric(float64(size)/1e6, "file-MB")
}

func fileBenchRead(b *testing.B, ext string, opts ReadOptions) {
	p, size := fileBenchFile(b, ext)
	b.SetBytes(size)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		r, err := OpenReader(p, opts)
		if err != nil {
			b.Fatal(err)
		}
		rows := 0
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			rows += int(rec.NumRows())
			rec.Release()
		}
		r.Close()
		if rows != fileBenchRows {
			b.Fatalf("read %d rows, want %d", rows, fileBenchRows)
		}
	}
	b.StopTimer()
	reportRates(b, cpu0, size)
}

// BenchmarkReadCSV includes inference over the default 10000-row sample.
func BenchmarkReadCSV(b *testing.B) { fileBenchRead(b, ".csv", ReadOptions{}) }

func BenchmarkReadCSVWithSchema(b *testing.B) {
	s, err := ParseSchemaSpec("id:int64,name:utf8,city:utf8,score:float64,count:int64,active:bool,day:date,at:datetime,note:utf8,ratio:float64")
	if err != nil {
		b.Fatal(err)
	}
	fileBenchRead(b, ".csv", ReadOptions{Schema: s})
}

func BenchmarkReadParquet(b *testing.B) { fileBenchRead(b, ".parquet", ReadOptions{}) }

func BenchmarkReadNDJSON(b *testing.B) { fileBenchRead(b, ".ndjson", ReadOptions{}) }

func BenchmarkReadArrowIPC(b *testing.B) { fileBenchRead(b, ".arrow", ReadOptions{}) }

func fileBenchWrite(b *testing.B, ext string) {
	var recs []arrow.RecordBatch
	fileBenchBatches(b, func(rec arrow.RecordBatch) {
		rec.Retain()
		recs = append(recs, rec)
	})
	defer releaseAll(recs)
	p := filepath.Join(b.TempDir(), "out"+ext)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	var size int64
	for i := 0; i < b.N; i++ {
		w, err := CreateRecordWriter(p, fileBenchSchema, WriteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, rec := range recs {
			if err := w.Write(rec); err != nil {
				b.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			b.Fatal(err)
		}
		size = st.Size()
	}
	b.StopTimer()
	b.SetBytes(size)
	reportRates(b, cpu0, size)
}

func BenchmarkWriteParquet(b *testing.B) { fileBenchWrite(b, ".parquet") }

func BenchmarkWriteCSV(b *testing.B) { fileBenchWrite(b, ".csv") }
