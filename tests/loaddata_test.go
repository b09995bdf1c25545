package tests

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/klauspost/compress/gzip"

	"github.com/redstage/redstage/internal/redistest"
)

// dataEnv starts a Redis server and returns it with the environment of the
// CLI in its default (embedded) mode and a temporary directory.
func dataEnv(t *testing.T) (*redistest.Server, []string, string) {
	t.Helper()
	srv := redistest.StartServer(t)
	return srv, childEnv("REDSTAGE_REDIS_URL=" + srv.URL()), t.TempDir()
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func hashOf(t *testing.T, srv *redistest.Server, key string) map[string]string {
	t.Helper()
	m, err := srv.Client().HGetAll(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("HGETALL %s: %v", key, err)
	}
	return m
}

func wantFields(t *testing.T, srv *redistest.Server, key string, want map[string]string) {
	t.Helper()
	got := hashOf(t, srv, key)
	if len(got) != len(want) {
		t.Errorf("%s = %v; want %v", key, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s field %s = %q; want %q (hash %v)", key, k, got[k], v, got)
		}
	}
}

// Regression (issue 8, item 1): CSV and NDJSON values are stored exactly as
// the file has them; --schema asks for typed normalisation.
func TestLoadKeepsText(t *testing.T) {
	srv, env, dir := dataEnv(t)
	csv := writeFile(t, dir, "people.csv", []byte("id,phone,zip,flag,n,amount\n"+
		"007,0049123,01234,yes,1e3,1.50\n"+
		"8,+4912345,02345,no,2E3,-0.0\n"))
	r := mustRedstage(t, env, 2*time.Minute, "load", csv, "-k", "id", "--prefix", "p:", "--json")
	if s := r.summary(t); num(t, s, "written") != 2 {
		t.Fatalf("summary: %v", s)
	}
	wantFields(t, srv, "p:007", map[string]string{"id": "007", "phone": "0049123", "zip": "01234", "flag": "yes", "n": "1e3", "amount": "1.50"})
	wantFields(t, srv, "p:8", map[string]string{"id": "8", "phone": "+4912345", "zip": "02345", "flag": "no", "n": "2E3", "amount": "-0.0"})
	if !contains(r.stdout, `"inferred_types": "id:utf8,phone:utf8,zip:utf8,flag:bool,n:float64,amount:float64"`) {
		t.Errorf("summary lacks the inferred types:\n%s", r.stdout)
	}

	nd := writeFile(t, dir, "events.ndjson", []byte(`{"id":"a","n":1e3,"f":1.50,"s":"007","o":{"k": [1, 2]}}`+"\n"))
	mustRedstage(t, env, 2*time.Minute, "load", nd, "-k", "id", "--prefix", "e:")
	wantFields(t, srv, "e:a", map[string]string{"id": "a", "n": "1e3", "f": "1.50", "s": "007", "o": `{"k":[1,2]}`})

	// --schema normalises: the values are parsed and written in their type's form.
	mustRedstage(t, env, 2*time.Minute, "load", csv, "-k", "id", "--prefix", "q:", "--schema", "id:utf8,zip:int64,n:float64,flag:bool")
	wantFields(t, srv, "q:007", map[string]string{"id": "007", "zip": "1234", "n": "1000", "flag": "true"})
}

// Regression (issue 8, item 4): TSV is tab-separated, by extension and by
// --format tsv, on read and on write.
func TestLoadTSV(t *testing.T) {
	srv, env, dir := dataEnv(t)
	data := []byte("id\tname\tamount\n1\ta, b\t2\n")
	tsv := writeFile(t, dir, "t.tsv", data)
	txt := writeFile(t, dir, "t.txt", data)
	mustRedstage(t, env, 2*time.Minute, "load", tsv, "-k", "id", "--prefix", "t1:")
	mustRedstage(t, env, 2*time.Minute, "load", txt, "--format", "tsv", "-k", "id", "--prefix", "t2:")
	for _, k := range []string{"t1:1", "t2:1"} {
		wantFields(t, srv, k, map[string]string{"id": "1", "name": "a, b", "amount": "2"})
	}
	out := filepath.Join(dir, "out.txt")
	mustRedstage(t, env, 2*time.Minute, "scan", "t1:*", "--schema", "name:utf8", "--format", "tsv", "-o", out)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "_key\tname\nt1:1\ta, b\n" {
		t.Errorf("scan --format tsv wrote %q", b)
	}
}

// Regression (issue 8, item 5): scan output loads back: metadata columns
// are not written as fields; _key gives the key (old prefix stripped) and
// _ttl the expiry.
func TestScanLoadRoundTrip(t *testing.T) {
	srv, env, dir := dataEnv(t)
	mustRedstage(t, env, time.Minute, "sample-data", dir)
	mustRedstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "customers.csv"), "-k", "customer_id", "--prefix", "customer:")
	ctx := context.Background()
	if err := srv.Client().Expire(ctx, "customer:1000", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	arrows := filepath.Join(dir, "c.arrows")
	mustRedstage(t, env, 2*time.Minute, "scan", "customer:*", "--include-ttl", "--row-index", "-o", arrows)
	r := mustRedstage(t, env, 2*time.Minute, "load", arrows, "--key-column", "_key", "--strip-prefix", "customer:",
		"--prefix", "c2:", "--ttl-column", "_ttl", "--json")
	if s := r.summary(t); num(t, s, "written") != 1000 {
		t.Fatalf("load summary: %v", s)
	}
	if !contains(r.stdout, `"_index"`) || !contains(r.stderr, "not written (scan metadata): _index") {
		t.Errorf("the summary does not say _index was not written:\n%s", r)
	}
	orig, back := hashOf(t, srv, "customer:1001"), hashOf(t, srv, "c2:1001")
	if len(orig) == 0 || len(orig) != len(back) {
		t.Fatalf("c2:1001 = %v; want the fields of customer:1001 %v", back, orig)
	}
	for k := range back {
		if strings.HasPrefix(k, "_") {
			t.Errorf("metadata column %s written as a field", k)
		}
	}
	if d := srv.Client().TTL(ctx, "c2:1000").Val(); d < 50*time.Minute || d > time.Hour {
		t.Errorf("TTL of c2:1000 = %v; want about 1h (from _ttl)", d)
	}
	if d := srv.Client().TTL(ctx, "c2:1001").Val(); d != -1 {
		t.Errorf("TTL of c2:1001 = %v; want none (_ttl -1)", d)
	}
	r = mustRedstage(t, env, 2*time.Minute, "scan", "c2:*", "--json", "-o", filepath.Join(dir, "c2.parquet"))
	if s := r.summary(t); num(t, s, "rows") != 1000 {
		t.Fatalf("scan of the reloaded keys: %v", s)
	}
	// hashes that do hold a _key field (written by something else): the
	// collision names the options that avoid it
	if err := srv.Client().HSet(ctx, "old:1", "_key", "x", "name", "a").Err(); err != nil {
		t.Fatal(err)
	}
	r = redstage(t, env, 2*time.Minute, "scan", "old:*", "-o", filepath.Join(dir, "old.parquet"))
	if r.code != 2 || !contains(r.stderr, "--fields") || !contains(r.stderr, "--no-key") {
		t.Errorf("collision with a _key field: want exit 2 naming --fields and --no-key\n%s", r)
	}
	mustRedstage(t, env, 2*time.Minute, "scan", "old:*", "--no-key", "-o", filepath.Join(dir, "old.parquet"))
}

// Regression (issue 8, item 7): a TTL column takes seconds, durations and
// datetimes; a bad value or type is refused before anything is written.
func TestLoadTTLColumnForms(t *testing.T) {
	srv, env, dir := dataEnv(t)
	ctx := context.Background()
	good := writeFile(t, dir, "ttl.csv", []byte("id,ttl\na,3600\nb,90s\nc,1h30m\nd,2100-01-01\ne,\n"))
	mustRedstage(t, env, 2*time.Minute, "load", good, "-k", "id", "--prefix", "g:", "--ttl-column", "ttl")
	for k, want := range map[string]time.Duration{"a": time.Hour, "b": 90 * time.Second, "c": 90 * time.Minute} {
		if d := srv.Client().TTL(ctx, "g:"+k).Val(); d < want-time.Minute || d > want {
			t.Errorf("TTL g:%s = %v; want about %v", k, d, want)
		}
	}
	if at := srv.Client().ExpireTime(ctx, "g:d").Val(); at != time.Duration(time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC).Unix())*time.Second {
		t.Errorf("EXPIRETIME g:d = %v; want 2100-01-01", at)
	}
	if d := srv.Client().TTL(ctx, "g:e").Val(); d != -1 {
		t.Errorf("empty TTL: %v; want no expiry", d)
	}
	wantFields(t, srv, "g:a", map[string]string{"id": "a"})

	bad := writeFile(t, dir, "bad.csv", []byte("id,ttl\na,3600\nb,soon\n"))
	r := redstage(t, env, 2*time.Minute, "load", bad, "-k", "id", "--prefix", "b:", "--ttl-column", "ttl")
	if r.code != 3 || !contains(r.stderr, `"soon" is not a TTL`) || !contains(r.stderr, "data row 2") {
		t.Errorf("bad TTL value: want exit 3 naming the row\n%s", r)
	}
	r = redstage(t, env, 2*time.Minute, "load", good, "-k", "id", "--prefix", "f:", "--ttl-column", "ttl", "--schema", "id:utf8,ttl:float64")
	if r.code != 3 || !contains(r.stderr, `TTL column "ttl" has type float64`) {
		t.Errorf("float TTL column: want exit 3 before the job\n%s", r)
	}
	for _, p := range []string{"b:*", "f:*"} {
		if keys := srv.Client().Keys(ctx, p).Val(); len(keys) != 0 {
			t.Errorf("refused loads wrote %v", keys)
		}
	}
}

// Regression (issue 8, item 8): nested Parquet columns are refused before
// any write, with a --schema that works.
func TestLoadNestedParquet(t *testing.T) {
	srv, env, dir := dataEnv(t)
	mem := memory.DefaultAllocator
	schema := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.PrimitiveTypes.Int64},
		{Name: "tags", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "name", Type: arrow.BinaryTypes.String, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	b.Field(0).(*array.Int64Builder).AppendValues([]int64{1, 2}, nil)
	lb := b.Field(1).(*array.ListBuilder)
	for i := 0; i < 2; i++ {
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).Append("x")
	}
	b.Field(2).(*array.StringBuilder).AppendValues([]string{"a", "b"}, nil)
	rec := b.NewRecordBatch()
	defer rec.Release()
	var buf bytes.Buffer
	w, err := pqarrow.NewFileWriter(schema, &buf, nil, pqarrow.DefaultWriterProps())
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(rec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	pq := writeFile(t, dir, "nested.parquet", buf.Bytes())
	r := redstage(t, env, 2*time.Minute, "load", pq, "-k", "id", "--prefix", "n:")
	if r.code != 3 || !contains(r.stderr, "tags (list") || !contains(r.stderr, "--schema 'id:int64,name:utf8'") {
		t.Fatalf("nested column: want exit 3 with a working --schema\n%s", r)
	}
	if n := keyCount(t, serverSize{srv}); n != 0 {
		t.Fatalf("%d keys written by a refused load", n)
	}
	mustRedstage(t, env, 2*time.Minute, "load", pq, "-k", "id", "--prefix", "n:", "--schema", "id:int64,name:utf8")
	wantFields(t, srv, "n:1", map[string]string{"id": "1", "name": "a"})
}

// Regression (issue 8, item 14, data parts): compressed input, the
// semicolon hint, JSON arrays, and --sample-rows.
func TestLoadInputHelp(t *testing.T) {
	srv, env, dir := dataEnv(t)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("id,zip\n1,01234\n"))
	zw.Close()
	p := writeFile(t, dir, "customers.csv.gz", gz.Bytes())
	mustRedstage(t, env, 2*time.Minute, "load", p, "-k", "id")
	wantFields(t, srv, "customers:1", map[string]string{"id": "1", "zip": "01234"})

	semi := writeFile(t, dir, "semi.csv", []byte("id;name\n1;a\n"))
	r := redstage(t, env, 2*time.Minute, "load", semi, "-k", "id")
	if r.code != 3 || !contains(r.stderr, "--delimiter ';'") {
		t.Errorf("semicolon CSV: want exit 3 suggesting --delimiter ';'\n%s", r)
	}
	mustRedstage(t, env, 2*time.Minute, "load", semi, "-k", "id", "--delimiter", ";")
	wantFields(t, srv, "semi:1", map[string]string{"id": "1", "name": "a"})

	arr := writeFile(t, dir, "arr.json", []byte("[\n  {\"id\": 1},\n  {\"id\": 2}\n]\n"))
	r = redstage(t, env, 2*time.Minute, "load", arr, "-k", "id")
	if r.code != 3 || !contains(r.stderr, "one whole JSON object") || contains(r.stderr, "what to do: \n") {
		t.Errorf("JSON array file: want exit 3 saying one object per line\n%s", r)
	}

	// a key first seen after the sample: the hint names --sample-rows, which works
	var nd strings.Builder
	for i := 0; i < 30; i++ {
		nd.WriteString(`{"id":"k` + strings.Repeat("x", i) + `"}` + "\n")
	}
	nd.WriteString(`{"id":"late","extra":"v"}` + "\n")
	late := writeFile(t, dir, "late.ndjson", []byte(nd.String()))
	r = redstage(t, env, 2*time.Minute, "load", late, "-k", "id", "--sample-rows", "10")
	if r.code != 3 || !contains(r.stderr, "--sample-rows") {
		t.Errorf("late key: want exit 3 naming --sample-rows\n%s", r)
	}
	mustRedstage(t, env, 2*time.Minute, "load", late, "-k", "id", "--sample-rows", "100")
	wantFields(t, srv, "late:late", map[string]string{"id": "late", "extra": "v"})
}

// Regression (issue 8, item 10): the default carries a 1 MiB row, and a row
// over the message limit fails naming the setting that raises it.
func TestLoadLargeRow(t *testing.T) {
	srv, env, dir := dataEnv(t)
	big := strings.Repeat("x", 3<<19) // 1.5 MiB
	p := writeFile(t, dir, "big.csv", []byte("id,v\n1,"+big+"\n2,small\n"))
	mustRedstage(t, env, 2*time.Minute, "load", p, "-k", "id")
	if got := hashOf(t, srv, "big:1")["v"]; got != big {
		t.Fatalf("big:1 v has %d bytes, want %d", len(got), len(big))
	}
	mustRedstage(t, env, 2*time.Minute, "scan", "big:*", "--schema", "v:utf8", "-o", filepath.Join(dir, "out.csv"))
	r := redstage(t, env, 2*time.Minute, "load", p, "-k", "id", "--prefix", "small:", "--max-payload", "1048576")
	if r.code == 0 || !contains(r.stderr, "row too large") || !contains(r.stderr, "--max-payload BYTES") {
		t.Fatalf("a row over the message limit: want a failure naming --max-payload\n%s", r)
	}
}
