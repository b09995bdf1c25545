// Package cli implements the three programs of redstage: the redstage
// command-line client (load, scan, infer, delete, jobs, status, cancel,
// workers, sample-data), the coordinator and the worker. cmd/* only call
// Main.
//
// What it promises:
//   - Flags are parsed by one set of parsers (Parse exposes them without
//     running anything, so deployment manifests can be checked against them).
//   - Every failure maps to a documented exit code (ExitCodes) and is printed
//     with what went wrong and what to do; passwords in URLs are redacted.
//   - Without --nats a job command starts the embedded cluster and shuts it
//     down in order; with --nats it submits to a running cluster.
//   - SIGINT/SIGTERM cancels the running job on the cluster (exit 130); the
//     daemons drain and stop in order.
//   - Output files are written under a temporary name and renamed when
//     complete; CSV/NDJSON load input is checked in full before anything is
//     written (unless --no-precheck).
//   - Progress goes to stderr: a bar on a terminal, log lines otherwise.
package cli
