package tests

import (
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/redstage/redstage/codec"
	"github.com/redstage/redstage/internal/cli"
)

// k8sObject is the part of a Kubernetes manifest that runs a program.
type k8sObject struct {
	Kind     string `yaml:"kind"`
	Metadata struct {
		Name string `yaml:"name"`
	} `yaml:"metadata"`
	Spec struct {
		Template struct {
			Spec podSpec `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	Containers []struct {
		Name    string   `yaml:"name"`
		Image   string   `yaml:"image"`
		Command []string `yaml:"command"`
		Args    []string `yaml:"args"`
		Env     []struct {
			Name      string         `yaml:"name"`
			Value     string         `yaml:"value"`
			ValueFrom map[string]any `yaml:"valueFrom"`
		} `yaml:"env"`
	} `yaml:"containers"`
}

// TestManifestsParse runs the command line of every redstage container in
// deploy/k8s through the programs' real flag parsers, with the container's
// environment, so the manifests cannot drift from the flags.
func TestManifestsParse(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "deploy", "k8s", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no manifests in deploy/k8s (%v)", err)
	}
	seen := map[string]bool{}
	for _, file := range files {
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(f)
		for {
			var obj k8sObject
			err := dec.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			for _, c := range obj.Spec.Template.Spec.Containers {
				if len(c.Command) == 0 {
					continue // not one of ours (nats)
				}
				program := path.Base(c.Command[0])
				switch program {
				case "redstage", "coordinator", "worker":
				default:
					continue
				}
				env := map[string]string{}
				for _, e := range c.Env {
					switch {
					case e.ValueFrom != nil:
						env[e.Name] = "redis://secret-placeholder:6379/0" // a secretKeyRef
					default:
						env[e.Name] = e.Value
					}
				}
				name := filepath.Base(file) + "/" + obj.Metadata.Name + "/" + c.Name
				t.Run(name, func(t *testing.T) {
					p, err := cli.Parse(program, c.Args, func(k string) string { return env[k] })
					if err != nil {
						t.Fatalf("%s %q does not parse: %v", program, c.Args, err)
					}
					checkManifestCommand(t, p)
				})
				seen[program] = true
			}
		}
		f.Close()
	}
	var missing []string
	for _, p := range []string{"redstage", "coordinator", "worker"} {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("no manifest runs %v: the test checks nothing for them", missing)
	}
}

// checkManifestCommand checks what the manifests mean to configure.
func checkManifestCommand(t *testing.T, p *cli.Parsed) {
	switch o := p.Options.(type) {
	case *cli.CoordinatorOptions:
		if o.NATS == "" || o.EmbeddedNATS != "" {
			t.Errorf("coordinator: NATS %q embedded %q: want a NATS URL", o.NATS, o.EmbeddedNATS)
		}
		if !o.Log.JSON {
			t.Errorf("coordinator: REDSTAGE_LOG_FORMAT=json did not select JSON logs")
		}
	case *cli.WorkerOptions:
		if o.NATS == "" || o.Config.Concurrency < 1 {
			t.Errorf("worker: NATS %q concurrency %d", o.NATS, o.Config.Concurrency)
		}
		if !o.Log.JSON {
			t.Errorf("worker: REDSTAGE_LOG_FORMAT=json did not select JSON logs")
		}
	case *cli.ScanOptions:
		if o.Global.NATS == "" {
			t.Errorf("scan job: no NATS URL: the job would start an embedded cluster in the pod")
		}
		if o.Global.Redis == cli.DefaultRedisURL {
			t.Errorf("scan job: Redis URL not taken from REDSTAGE_REDIS_URL")
		}
		if o.SchemaFile == "" && o.Schema == nil {
			t.Errorf("scan job: no schema: it would infer one at every run")
		}
		if !o.Global.JSON || o.Output == "" || o.Format != codec.FormatParquet {
			t.Errorf("scan job: json %v output %q format %s", o.Global.JSON, o.Output, o.Format)
		}
	case *cli.LoadOptions, *cli.InferOptions, *cli.DeleteOptions:
		// Valid command lines; nothing more to check.
	default:
		t.Errorf("%s %s: unexpected options %T", p.Program, p.Command, p.Options)
	}
}
