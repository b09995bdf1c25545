// Package tests holds redstage's end-to-end tests and benchmarks: the
// programs built from cmd/ run as real processes (a coordinator, worker
// processes, the redstage CLI) against a NATS server with JetStream and real
// redis-server processes (a standalone server and 3-master clusters of
// Redis 7.0 and 7.4.1, started by internal/redistest), with faults injected (kill -9, restarts,
// Redis stopping, cancellation) and outputs compared with ground truth.
//
// Run: go test ./tests/ (builds the programs once; needs redis-server and
// the Redis 7.4.1 stack that scripts/setup.sh installs). Benchmarks: see docs/benchmarks-e2e.md.
package tests
