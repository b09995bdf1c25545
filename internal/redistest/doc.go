// Package redistest starts real redis-server processes for tests and
// benchmarks: a standalone server, or a Redis Cluster of several masters
// (optionally with replicas), each on free loopback ports in a temporary
// directory owned by the test.
//
// What it promises:
//   - Every process is started in its own process group and killed (the whole
//     group) by t.Cleanup, also when the test fails or calls t.Fatal.
//   - Readiness is established by polling (PING, CLUSTER INFO) with a
//     deadline; nothing sleeps to synchronise.
//   - A missing redis-server binary fails the test with a message naming the
//     setup command (scripts/setup.sh); tests are never skipped silently.
//   - Servers run without persistence (save "", appendonly no) unless the
//     options ask for it; Stop (SHUTDOWN SAVE) followed by Restart keeps the
//     data, Kill followed by Restart loses it, and both change the run_id.
//
// Helpers load fixtures with deep pipelines, migrate a slot between masters
// (in one go, or step by step so that a test can migrate while another
// goroutine scans), stop, kill and restart nodes, and flush all data.
package redistest
