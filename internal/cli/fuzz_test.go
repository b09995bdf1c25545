package cli

import (
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary command lines (arguments separated by NUL) to
// the three programs' parsers: they must never panic, and every error must
// map to a documented exit code with a hint.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"load\x00a.csv\x00--key-column\x00id,region\x00--ttl\x0060",
		"scan\x00user:*\x00--schema\x00a:int64,b:date\x00--fields\x00b\x00-o\x00-",
		"scan\x00k:[\x00-o\x00x.parquet",
		"infer\x00u:*\x00--overwrite\x00age:utf8\x00--threshold\x000.5",
		"delete\x00x\x00--dry-run\x00--redis\x00redis://:pw@h:1/2",
		"status\x00abc\x00--nats\x00nats://n:4222\x00--wait",
		"--nats\x00\x00jobs",
		"sample-data\x00d\x00--scale\x00-1",
		"--embedded-nats\x00:0\x00--store\x00s",
		"--concurrency\x0099999999999999999999",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		args := strings.Split(line, "\x00")
		for _, program := range []string{"redstage", "coordinator", "worker"} {
			p, err := Parse(program, args, env(EnvNATSURL, "nats://n:4222"))
			if err != nil {
				code, hint := Classify(err)
				if code == ExitOK || hint == "" {
					t.Fatalf("%s %q: error %v classified as %d with hint %q", program, args, err, code, hint)
				}
				continue
			}
			if p == nil || p.Options == nil {
				t.Fatalf("%s %q: no error and no options", program, args)
			}
		}
	})
}
