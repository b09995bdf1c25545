package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redstage/redstage/cluster"
	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/shard"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func mustParse(t *testing.T, program string, args []string, getenv func(string) string) *Parsed {
	t.Helper()
	p, err := Parse(program, args, getenv)
	if err != nil {
		t.Fatalf("Parse(%s %q): %v", program, args, err)
	}
	return p
}

func TestParseLoad(t *testing.T) {
	p := mustParse(t, "redstage", []string{"load", "data/customers.csv", "more.csv", "--key-column", "customer_id, region",
		"--ttl", "3600", "--if-exists", "skip", "--report", "fail.json", "--redis", "redis://:secret@h:7000/2"}, env())
	if p.Command != "load" {
		t.Fatalf("command %q, want load", p.Command)
	}
	o := p.Options.(*LoadOptions)
	if !reflect.DeepEqual(o.Files, []string{"data/customers.csv", "more.csv"}) {
		t.Errorf("files %q", o.Files)
	}
	if !reflect.DeepEqual(o.KeyColumns, []string{"customer_id", "region"}) {
		t.Errorf("key columns %q", o.KeyColumns)
	}
	if o.Prefix != "customers:" {
		t.Errorf("default prefix %q, want customers:", o.Prefix)
	}
	if o.TTL != time.Hour || o.IfExists != "skip" || o.Report != "fail.json" || !o.Precheck {
		t.Errorf("ttl %s if-exists %s report %s precheck %v", o.TTL, o.IfExists, o.Report, o.Precheck)
	}
	if o.Spec.Kind != cluster.KindLoad || o.Spec.Redis != "redis://:secret@h:7000/2" || o.Spec.Load.Mode != "skip" ||
		o.Spec.Load.TTL != time.Hour || o.Spec.Load.Prefix != "customers:" {
		t.Errorf("spec %+v load %+v", o.Spec, o.Spec.Load)
	}
}

func TestParseLoadPrefixExplicitlyEmpty(t *testing.T) {
	o := mustParse(t, "redstage", []string{"load", "x.parquet", "--prefix", ""}, env()).Options.(*LoadOptions)
	if o.Prefix != "" {
		t.Fatalf("prefix %q, want empty (given explicitly)", o.Prefix)
	}
}

func TestParseScanKeyEncoding(t *testing.T) {
	o := mustParse(t, "redstage", []string{"scan", "x:*", "--key-encoding", "escape", "--schema", "a:utf8", "-o", "a.csv"}, env(EnvRedisURL, "redis://r:6379")).Options.(*ScanOptions)
	if o.Meta.KeyEncoding != codec.KeyEscape {
		t.Errorf("key encoding %q, want escape", o.Meta.KeyEncoding)
	}
}

func TestParseScan(t *testing.T) {
	p := mustParse(t, "redstage", []string{"scan", "user:*", "--schema", "id:int64,name:utf8,age:int64", "--fields", "name,age",
		"--include-ttl", "--row-index", "--sort", "--tasks", "8", "-o", "out/users.csv"}, env(EnvRedisURL, "redis://r:6379"))
	o := p.Options.(*ScanOptions)
	if o.Pattern != "user:*" || o.Format != codec.FormatCSV || o.Output != "out/users.csv" || o.Tasks != 8 || !o.Sort {
		t.Errorf("options %+v", o)
	}
	if got := o.Schema.Spec(); got != "name:utf8,age:int64" {
		t.Errorf("projected schema %q", got)
	}
	want := codec.MetaColumns{Key: "_key", TTL: "_ttl", Index: "_index", KeyEncoding: codec.KeyText}
	if o.Meta != want {
		t.Errorf("meta %+v, want %+v", o.Meta, want)
	}
	if o.Global.Redis != "redis://r:6379" {
		t.Errorf("redis from env: %q", o.Global.Redis)
	}
	if spec := o.spec(); spec.Validate() != nil {
		t.Errorf("scan spec does not validate: %v", spec.Validate())
	}
}

func TestParseScanStdoutIsArrowStream(t *testing.T) {
	o := mustParse(t, "redstage", []string{"scan", "k:*", "--no-key", "-o", "-"}, env()).Options.(*ScanOptions)
	if o.Format != codec.FormatArrows || o.Meta.Key != "" || o.Schema != nil {
		t.Fatalf("format %s meta %+v schema %v", o.Format, o.Meta, o.Schema)
	}
}

func TestParseGlobalDefaults(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		env       func(string) string
		redis     string
		nats      string
		logJSON   bool
		logLevel  string
		noProgres bool
	}{
		{"defaults", nil, env(), DefaultRedisURL, "", false, "info", false},
		{"env", nil, env(EnvRedisURL, "redis://e:1", EnvNATSURL, "nats://n:4222", EnvLogFormat, "json", EnvLogLevel, "debug", EnvNoProgress, "1"),
			"redis://e:1", "nats://n:4222", true, "debug", true},
		{"flags win", []string{"--redis", "redis://f:2", "--nats", "nats://f:4222", "--log-level", "warn"},
			env(EnvRedisURL, "redis://e:1", EnvNATSURL, "nats://n:4222", EnvLogLevel, "debug"), "redis://f:2", "nats://f:4222", false, "warn", false},
		{"empty nats flag means embedded", []string{"--nats", ""}, env(EnvNATSURL, "nats://n:4222"), DefaultRedisURL, "", false, "info", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"delete", "x:*"}, tc.args...)
			o := mustParse(t, "redstage", args, tc.env).Options.(*DeleteOptions)
			g := o.Global
			if g.Redis != tc.redis || g.NATS != tc.nats || g.Log.JSON != tc.logJSON || g.Log.Level != tc.logLevel || g.NoProgress != tc.noProgres {
				t.Fatalf("got redis %q nats %q json %v level %q noprogress %v", g.Redis, g.NATS, g.Log.JSON, g.Log.Level, g.NoProgress)
			}
		})
	}
}

func TestParseInferAndOthers(t *testing.T) {
	o := mustParse(t, "redstage", []string{"infer", "u:*", "--sample", "50", "--threshold", "0.8", "--overwrite", "age:utf8", "-o", "s.json"}, env()).Options.(*InferOptions)
	if o.Sample != 50 || o.Threshold != 0.8 || o.Overwrite["age"] != codec.Utf8 || o.Output != "s.json" {
		t.Errorf("infer %+v", o)
	}
	d := mustParse(t, "redstage", []string{"delete", "u:*", "--dry-run"}, env()).Options.(*DeleteOptions)
	if !d.DryRun || d.Pattern != "u:*" {
		t.Errorf("delete %+v", d)
	}
	n := env(EnvNATSURL, "nats://x:4222")
	if p := mustParse(t, "redstage", []string{"jobs"}, n); p.Command != "jobs" {
		t.Errorf("jobs: %q", p.Command)
	}
	s := mustParse(t, "redstage", []string{"status", "abc", "--wait"}, n).Options.(*StatusOptions)
	if s.ID != "abc" || !s.Wait {
		t.Errorf("status %+v", s)
	}
	if c := mustParse(t, "redstage", []string{"cancel", "abc"}, n).Options.(*CancelOptions); c.ID != "abc" {
		t.Errorf("cancel %+v", c)
	}
	sd := mustParse(t, "redstage", []string{"sample-data", "dir", "--scale", "2", "--seed", "7"}, env()).Options.(*SampleDataOptions)
	if sd.Config.Dir != "dir" || sd.Config.Seed != 7 || sd.Config.Customers != 2000 {
		t.Errorf("sample-data %+v", sd.Config)
	}
}

func TestParseDaemons(t *testing.T) {
	c := mustParse(t, "coordinator", []string{"--nats", "nats://n:4222", "--ack-wait", "5s", "--max-attempts", "3"}, env()).Options.(*CoordinatorOptions)
	if c.NATS != "nats://n:4222" || c.Config.AckWait != 5*time.Second || c.Config.MaxAttempts != 3 {
		t.Errorf("coordinator %+v", c)
	}
	e := mustParse(t, "coordinator", []string{"--embedded-nats", "127.0.0.1:0", "--store", "/tmp/x"}, env(EnvNATSURL, "nats://ignored:4222")).Options.(*CoordinatorOptions)
	if e.NATS != "" || e.EmbeddedNATS != "127.0.0.1:0" || e.Store != "/tmp/x" {
		t.Errorf("embedded coordinator %+v", e)
	}
	w := mustParse(t, "worker", []string{"--concurrency", "4"}, env(EnvNATSURL, "nats://n:4222", EnvLogFormat, "json")).Options.(*WorkerOptions)
	if w.NATS != "nats://n:4222" || w.Config.Concurrency != 4 || !w.Log.JSON {
		t.Errorf("worker %+v", w)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name    string
		program string
		args    []string
		env     func(string) string
		code    int
		msg     string
	}{
		{"unknown flag", "redstage", []string{"scan", "x:*", "-o", "a.parquet", "--nope"}, env(), ExitUsage, "unknown flag: --nope"},
		{"scan without output", "redstage", []string{"scan", "x:*"}, env(), ExitUsage, "-o FILE"},
		{"scan without pattern", "redstage", []string{"scan", "-o", "a.parquet"}, env(), ExitUsage, "needs a PATTERN"},
		{"scan bad key encoding", "redstage", []string{"scan", "x:*", "--key-encoding", "binary", "-o", "a.parquet"}, env(), ExitUsage, "want text or escape"},
		{"scan unknown type", "redstage", []string{"scan", "x:*", "--schema", "a:int65", "-o", "a.parquet"}, env(), ExitUsage, "int65"},
		{"scan unknown field", "redstage", []string{"scan", "x:*", "--schema", "a:int64", "--fields", "b", "-o", "a.parquet"}, env(), ExitUsage, "b"},
		{"scan bad extension", "redstage", []string{"scan", "x:*", "-o", "a.xlsx"}, env(), ExitUsage, ".xlsx"},
		{"scan sort without key", "redstage", []string{"scan", "x:*", "--sort", "--no-key", "-o", "a.parquet"}, env(), ExitUsage, "key"},
		{"scan unclosed class", "redstage", []string{"scan", "x:[ab", "-o", "a.parquet"}, env(), ExitUsage, "never closed"},
		{"bad redis scheme", "redstage", []string{"delete", "x:*", "--redis", "http://h:1"}, env(), ExitUsage, "scheme"},
		{"load no files", "redstage", []string{"load"}, env(), ExitUsage, "at least one FILE"},
		{"load ttl both", "redstage", []string{"load", "a.csv", "--ttl", "5", "--ttl-column", "t"}, env(), ExitUsage, "not both"},
		{"load bad mode", "redstage", []string{"load", "a.csv", "--if-exists", "fail"}, env(), ExitUsage, "replace, append or skip"},
		{"load stdin without format", "redstage", []string{"load", "-"}, env(), ExitUsage, "--format"},
		{"load unknown extension", "redstage", []string{"load", "a.xlsx"}, env(), ExitUsage, ".xlsx"},
		{"load duplicate key column", "redstage", []string{"load", "a.csv", "-k", "id,id"}, env(), ExitUsage, "twice"},
		{"infer bad threshold", "redstage", []string{"infer", "x:*", "--threshold", "1.5"}, env(), ExitUsage, "threshold"},
		{"infer bad overwrite", "redstage", []string{"infer", "x:*", "--overwrite", "age:number"}, env(), ExitUsage, "number"},
		{"jobs needs nats", "redstage", []string{"jobs"}, env(), ExitUsage, "--nats"},
		{"unknown command", "redstage", []string{"frobnicate"}, env(), ExitUsage, "frobnicate"},
		{"bad log format", "redstage", []string{"delete", "x:*"}, env(EnvLogFormat, "xml"), ExitUsage, "REDSTAGE_LOG_FORMAT"},
		{"worker needs nats", "worker", nil, env(), ExitUsage, "--nats"},
		{"worker zero concurrency", "worker", []string{"--nats", "nats://n:1", "--concurrency", "0"}, env(), ExitUsage, "Concurrency"},
		{"coordinator needs nats", "coordinator", nil, env(), ExitUsage, "--nats"},
		{"coordinator both", "coordinator", []string{"--nats", "nats://n:1", "--embedded-nats", ":4222", "--store", "d"}, env(), ExitUsage, "exclude"},
		{"coordinator embedded without store", "coordinator", []string{"--embedded-nats", ":4222"}, env(), ExitUsage, "--store"},
		{"coordinator bad addr", "coordinator", []string{"--embedded-nats", "4222", "--store", "d"}, env(), ExitUsage, "host:port"},
		{"coordinator bad ack wait", "coordinator", []string{"--nats", "nats://n:1", "--ack-wait", "10ms"}, env(), ExitUsage, "AckWait"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.program, tc.args, tc.env)
			if err == nil {
				t.Fatalf("no error")
			}
			code, hint := Classify(err)
			if code != tc.code {
				t.Errorf("exit code %d, want %d (error %v)", code, tc.code, err)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			if hint == "" {
				t.Errorf("no hint for %v", err)
			}
		})
	}
}

func TestRunPrintsErrorAndHint(t *testing.T) {
	var out, errb strings.Builder
	app := &App{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb, Getenv: env()}
	code := app.Run(t.Context(), "redstage", []string{"scan", "x:*", "--schema", "a:nope", "-o", "a.parquet"})
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitUsage, errb.String())
	}
	if s := errb.String(); !strings.Contains(s, "redstage: error:") || !strings.Contains(s, "what to do:") || !strings.Contains(s, "nope") {
		t.Fatalf("stderr %q lacks error, hint or the bad type", s)
	}
	if out.Len() != 0 {
		t.Fatalf("stdout not empty: %q", out.String())
	}
}

func TestRunMissingSchemaFile(t *testing.T) {
	var errb strings.Builder
	app := &App{Stdin: strings.NewReader(""), Stdout: &strings.Builder{}, Stderr: &errb, Getenv: env()}
	missing := filepath.Join(t.TempDir(), "none.json")
	code := app.Run(t.Context(), "redstage", []string{"scan", "x:*", "--schema", "@" + missing, "-o", filepath.Join(t.TempDir(), "o.parquet")})
	if code != ExitUsage {
		t.Fatalf("exit %d, want %d; stderr %s", code, ExitUsage, errb.String())
	}
	if !strings.Contains(errb.String(), missing) {
		t.Fatalf("stderr %q does not name the file", errb.String())
	}
}

func TestLoadBadInputWritesNothing(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.csv")
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(good, []byte("id,name\n1,a\n2,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("id,name\n1,a\n2,\"b\n3,c\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The Redis URL points at a closed port: if the command got past its
	// input checks it would fail differently (exit 4 or 5, not 3).
	tests := []struct {
		name string
		args []string
		msg  string
	}{
		{"missing key column", []string{"load", good, "--key-column", "customer_id"}, `key column "customer_id" not found`},
		{"missing ttl column", []string{"load", good, "--ttl-column", "ttl"}, `TTL column "ttl" not found`},
		{"malformed line", []string{"load", good, bad}, "bad.csv line"},
		{"missing file", []string{"load", filepath.Join(dir, "nope.csv")}, "nope.csv"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var errb strings.Builder
			report := filepath.Join(dir, tc.name+".json")
			app := &App{Stdin: strings.NewReader(""), Stdout: &strings.Builder{}, Stderr: &errb, Getenv: env()}
			args := append(tc.args, "--redis", "redis://127.0.0.1:1", "--report", report)
			code := app.Run(t.Context(), "redstage", args)
			if code != ExitInput {
				t.Fatalf("exit %d, want %d; stderr %s", code, ExitInput, errb.String())
			}
			if !strings.Contains(errb.String(), tc.msg) {
				t.Fatalf("stderr %q does not say %q", errb.String(), tc.msg)
			}
			b, err := os.ReadFile(report)
			if err != nil {
				t.Fatalf("no report: %v", err)
			}
			if !strings.Contains(string(b), `"written": 0`) || !strings.Contains(string(b), `"state": "rejected"`) {
				t.Fatalf("report does not say nothing was written:\n%s", b)
			}
		})
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{nil, ExitOK},
		{errors.New("boom"), ExitFailure},
		{&cluster.JobError{ID: "j", State: cluster.JobFailed, Reason: "task 3: connection refused"}, ExitJobFailed},
		{&cluster.JobError{ID: "j", State: cluster.JobCancelled}, ExitCancelled},
		{&cluster.JobError{ID: "j", State: cluster.JobFailed, Cause: &codec.FileError{Path: "a.csv", Line: 9, Err: codec.ErrMalformedFile}}, ExitInput},
		{errInterrupted, ExitInterrupted},
		{&codec.FileError{Path: "a.csv", Line: 3, Err: codec.ErrMalformedFile}, ExitInput},
		{&codec.SpecError{Err: codec.ErrUnknownType}, ExitUsage},
		{errors.Join(errors.New("x"), cluster.ErrRedisUnreachable), ExitRedis},
		{cluster.ErrNoCoordinator, ExitCluster},
		{&natsConnectError{URL: "nats://x", Err: errors.New("refused")}, ExitCluster},
		{cluster.ErrJobNotFound, ExitNotFound},
		{cluster.ErrJobFinished, ExitNotFound},
		{errNoHashes("x:*", "redis://h"), ExitNoData},
		{exitErr(ExitPartial, "h", errors.New("3 rows")), ExitPartial},
		{os.ErrNotExist, ExitInput},
		{&os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}, ExitBrokenPipe},
		{fmt.Errorf("cancelling job j: %w", cluster.ErrStoreFull), ExitCluster},
		{fmt.Errorf("redis x: %w", &shard.AccessError{Kind: shard.ErrAuth, Err: errors.New("WRONGPASS")}), ExitRedisAuth},
		{fmt.Errorf("redis x: %w", &shard.AccessError{Kind: shard.ErrNoPermission, Command: "info"}), ExitRedisACL},
		{fmt.Errorf("redis x: %w", &shard.AccessError{Kind: shard.ErrBadDB}), ExitRedisDB},
		{&cluster.JobError{ID: "j", State: cluster.JobFailed, Tasks: []cluster.TaskError{{Task: "t1", Error: "partition x: redis permission denied on h: the ACL user may not run SCAN"}}}, ExitRedisACL},
		{&cluster.JobError{ID: "j", State: cluster.JobCancelled, Reason: "redis permission denied"}, ExitCancelled},
	}
	seen := map[int]bool{}
	for _, c := range ExitCodes {
		if seen[c.Code] {
			t.Errorf("exit code %d documented twice", c.Code)
		}
		seen[c.Code] = true
	}
	for _, tc := range tests {
		code, hint := Classify(tc.err)
		if code != tc.code {
			t.Errorf("Classify(%v) = %d, want %d", tc.err, code, tc.code)
		}
		if !seen[code] {
			t.Errorf("exit code %d is not documented in ExitCodes", code)
		}
		if tc.err != nil && hint == "" {
			t.Errorf("Classify(%v): no hint", tc.err)
		}
	}
}

func TestDefaultPrefixAndQuote(t *testing.T) {
	for in, want := range map[string]string{
		"customers.csv": "customers:", "dir/orders.parquet": "orders:", "-": "stdin:", "a.b.csv.gz": "a:", "noext": "noext:",
	} {
		if got := defaultPrefix(in); got != want {
			t.Errorf("defaultPrefix(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"user:*": "'user:*'", "plain": "plain", "it's": `'it'\''s'`, "": "''"} {
		if got := shellQuote(in); got != want {
			t.Errorf("shellQuote(%q) = %q, want %q", in, got, want)
		}
	}
}
