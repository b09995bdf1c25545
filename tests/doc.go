// Package tests holds redstage's end-to-end tests and benchmarks: the
// programs built from cmd/ run as real processes (a coordinator, worker
// processes, the redstage CLI) against a NATS server with JetStream and real
// redis-server processes (a standalone server and a 3-master cluster,
// started by internal/redistest), with faults injected (kill -9, restarts,
// Redis stopping, cancellation) and outputs compared with ground truth.
//
// Run: go test ./tests/ (builds the programs once; needs redis-server, see
// scripts/setup.sh). Benchmarks: see docs/benchmarks-e2e.md.
package tests
