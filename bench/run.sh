#!/usr/bin/env bash
# Runs every redstage benchmark, one after another, with the commands quoted in
# docs/benchmarks.md, and keeps the raw output under bench/out/<date>/.
# Benchmarks start their own redis-server processes on free loopback ports.
# Usage: bench/run.sh [area...]   areas: codec files scan write cluster e2e (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
out="bench/out/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
areas=("$@"); [ ${#areas[@]} -gt 0 ] || areas=(codec files scan write cluster e2e)

run() {
  local name=$1; shift
  echo "== $name: $*" | tee -a "$out/commands.txt"
  "$@" 2>&1 | tee "$out/$name.txt"
}

for a in "${areas[@]}"; do
  case $a in
    codec)   run codec go test -run '^$' -bench 'Parse|Format|RecordBuilder|RowEncoder|InferrerAddHash' -benchmem ./codec/ ;;
    files)   run files go test ./codec/ -run '^$' -bench 'Benchmark(Read(CSV|CSVWithSchema|Parquet|NDJSON|ArrowIPC)|Write(Parquet|CSV)|EncodeFrames)$' -benchtime 3x ;;
    scan)    run scan go test ./shard -run '^$' -bench 'BenchmarkScanVsPeers|BenchmarkScanMemory' -benchtime=1x -timeout 30m ;;
    write)   run write go test ./shard -run '^$' -bench 'BenchmarkWriteVsPeers' -benchtime=1x -timeout 60m ;;
    cluster) run cluster go test ./cluster -run '^$' -bench BenchmarkProtocolOverhead -benchtime=1x -timeout 60m ;;
    e2e)     run e2e go test ./tests -run '^$' -bench . -benchtime=1x -timeout 60m ;;
    *) echo "unknown area $a (codec files scan write cluster e2e)" >&2; exit 2 ;;
  esac
done
echo "raw output in $out"
