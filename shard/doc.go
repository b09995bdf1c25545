// Package shard talks to Redis for redstage: it reads the topology of a
// standalone server or a Redis Cluster (Dial, Topology), splits a keyspace
// into independent partitions (PlanScan), and runs one task per partition:
// ScanPartition (hashes → Arrow record batches), SamplePartition (for schema
// inference), DeletePartition (delete by pattern) and WriteBatch (Arrow rows
// → hashes). Any number of workers may run the partitions of one job in any
// order; the promise below is about the union of their outputs.
//
// # What a scan promises
//
// Every hash matching the pattern that exists for the whole duration of the
// job appears in exactly one partition's output, exactly once. A key
// created or deleted during the job appears at most once. Rows of a task
// attempt that fails must be discarded by the caller: errors wrapping
// ErrServerRestarted, ErrStaleTopology, ErrTableShrank or ErrSlotUnstable
// mean "rerun" (see each error for how much to re-plan; ErrStaleTopology
// means ReplanPartition, which also ends a slot-cursor attempt that a
// restart cut through). The conditions for
// the promise are stated per partition kind below.
//
// # Partition kinds
//
// "cursor" (standalone servers; optionally one node of a 7.0/7.2 cluster).
// SCAN walks the keyspace dict's buckets in bit-reversed order, so a cursor
// v reads as the binary fraction x(v) = Σ vᵢ·2^-(i+1), and a call starting
// at c returns c′ > c and emits every key whose bucket lies in [x(c), x(c′))
// in whichever table holds it (DESIGN.md §2.1). Partition j of 2^p covers the
// fractions [j/2^p, (j+1)/2^p): it starts at cursor rev_p(j) and ends at
// cursor rev_p(j+1) (0 for the last). p = min(⌊log₂(keys/8)⌋, ⌈log₂ tasks⌉),
// so the table keeps at least 2^p buckets with a margin (Redis 7.x keeps
// about one bucket per key, at worst one per ten while a fork delays a
// resize and a rehash is under way) and a bucket never straddles two
// partitions.
//
// Exactly once across partitions, in no memory: a SCAN call loops dictScan
// until it has COUNT keys (up to 10·COUNT steps) and filters MATCH/TYPE only
// afterwards, so its last steps can run past the partition's end. A call
// whose returned cursor is still inside the partition, or exactly at its
// end, emitted only buckets inside the partition: its keys are kept. A call
// that returns a cursor beyond the end (or 0 for a partition that is not the
// last) is discarded and repeated from the same start cursor with half the
// COUNT (a stateless rewind: any cursor is a valid start). With COUNT 1 the
// loop stops at the first step that found a key, so all keys of such a call
// come from one bucket (one bucket group while rehashing) ending at the
// returned cursor, beyond our end: they belong to a later partition and are
// dropped, and the steps before it were empty, so the partition is done.
// Hence every accepted key lies in this partition's fractions, and a key
// present throughout is found by the partition holding its fraction (SCAN's
// guarantee, applied to a sub-range). The cost is about log₂(COUNT)
// discarded calls per partition (ScanStats.Retries).
//
// Exactly once inside a partition, in bounded memory: a key comes back only
// after the table shrank between two calls; the next call's first step then
// emits the whole, now wider, bucket holding its start cursor, including
// keys in [floor(x(c)), x(c)) returned before. A window keeps the keys of
// the latest calls (ScanOptions.DedupWindow keys, 65536 by default, about
// 4 MiB for short keys) and the horizon below which evicted keys lie. The
// returned cursor has no bits at or above the smaller table's exponent n0,
// which bounds floor(x(c)) from below; when that bound, or the exact n0 read
// with MEMORY STATS in a MULTI with a repeat of the call, shows the floor at
// or above the horizon, every possible repeat is still in the window. In the
// rare case it is not (a table shrinking by more than the window between two
// calls), the task fails with ErrTableShrank and is rerun. Without MEMORY
// STATS (renamed or forbidden) the window keeps every key of the partition.
//
// Conditions: the partitions of a node run against one server process
// (checked: run_id at the start, every second and at the end;
// ErrServerRestarted, and then every cursor partition of the node must be
// re-planned because the hash seed changed); the table keeps at least 2^p
// buckets, i.e. fewer than 7/8 of the planned keys are deleted during the job
// (PlanOptions.MinKeys plans for a smaller minimum); on a cluster node no
// slot moves during the task (checked: ErrStaleTopology).
//
// "slots" (Redis Cluster 7.0/7.2, the default there). A task is a master and
// a contiguous slot range; ranges are cut so that tasks hold about equal key
// counts. Slots are exactly disjoint by CRC16, so no key can be in two
// partitions. Why not cursor partitions per node: a node's dict loses and
// gains keys while slots migrate, which a cursor cannot account for (those
// partitions only detect it and fail), and a restart changes the hash seed
// of every cursor partition of the node; slot listing keeps no server state,
// survives restarts and follows migrations, at the price of client-side
// pattern and type filtering and one blocking call per slot. A task first checks that its master still owns every slot of
// its range (ErrStaleTopology otherwise; ReplanPartition splits the range by
// the current owners). It then lists a batch of slots with CLUSTER
// GETKEYSINSLOT on the master's own connection (asking for more keys than
// COUNTKEYSINSLOT said and repeating while the reply is full, so keys added
// meanwhile cannot push others out), reading the master's CLUSTER NODES
// before and after. A slot the master owned without a MIGRATING mark in both
// reads had no key leave or enter it meanwhile (keys move only while a slot
// is marked). Any other slot is followed: the chain of nodes it passes
// through (migration targets, new owners) is listed in chain order, until a
// pass during which no node's view of the slot changed, and the listings are
// united. Keys only move forward along the chain, so a key present
// throughout is on the node being listed at some point of the pass. The
// pattern and the hash type are applied on the client (Glob has the exact
// semantics of Redis' matcher; WRONGTYPE replies are counted as OtherTypes),
// and hashes are fetched through the cluster client, which follows MOVED and
// ASK. A slot with millions of keys is listed in one blocking call; the
// per-slot union during migration holds one slot's keys. A re-planned
// partition (Follow) skips the ownership check at its start: a slot its
// master no longer owns is followed from that master along the same chain
// (the master's view names the owner it gave the slot to), which finds
// every key present throughout by the same argument.
//
// "slot-cursor" (Redis 7.4+, Valkey 8+ in cluster mode: one dict per slot,
// cursor = dictCursor<<14 | slot, so SCAN visits the slots in ascending
// order and each slot's dict in bit-reversed order). A task SCANs its master
// from cursor SlotStart until the slot bits pass SlotEnd; keys outside the
// range are dropped by CRC16, so partitions are exactly disjoint; a per-slot
// set removes repeats from a slot's dict shrinking. Conditions, all
// checked: at the start the master owns every slot of the range and none is
// marked MIGRATING or IMPORTING (a key leaving a slot's dict while SCAN
// walks it would be missed: only slot listing can follow it); at the end
// the master's view of the range (owners and marks) is the same, so no key
// entered or left a slot of the range meanwhile; and the attempt ran
// against one server process (run_id read at its start, compared every
// second and at the end). The run_id the plan saw does not matter: which
// slots a partition holds is fixed by CRC16, only an attempt's cursors
// belong to a process. Any failed condition is ErrStaleTopology (a restart
// under an attempt wraps ErrServerRestarted as well): the attempt's rows
// are discarded and the range is re-planned.
//
// Re-planning (ReplanPartition) splits the range by its current owners into
// "slots" partitions with Follow set: a slot the master no longer owns at
// the start is not an error for them but is followed like a slot that moves
// while it is listed. Such a partition never fails with ErrStaleTopology,
// so a range is re-planned at most once however long a resharding lasts
// (before this rule, a slot-cursor range re-planned as slot-cursor pieces
// went stale again as long as `redis-cli --cluster reshard` kept moving its
// slots, without end). After a master restarts, only the ranges whose
// attempts the restart cut through are scanned again: re-planned when the
// attempt saw the new run_id, retried when it saw a broken connection,
// LOADING or CLUSTERDOWN first (the retry binds to the new process); either
// way the cut attempt never wins, so its rows are never read. Ranges
// planned on the old process and started on the new one just run. An attempt of any kind that
// starts while its node is still loading its data set (INFO persistence
// loading:1, or LOADING replies) waits for the load to end, bounded by its
// context, rather than failing: a restart costs a task at most the attempts
// it cut through, however long the load takes. Both are exercised against
// Redis 7.4.1 clusters in this package's tests (a master stopped with
// SHUTDOWN SAVE and restarted mid-scan; a 64-partition scan while
// redis-cli --cluster reshard moves 3000 slots).
//
// # Fetching and building
//
// Keys come in chunks; each chunk is one pipeline of HGETALL (FetchAll) or
// HMGET of the schema fields, plus TTL when a TTL column is wanted. A task
// runs three stages at once (listing, two fetchers, the batch builder)
// joined by short channels. The fetchers write the pipeline as raw RESP on
// their own connection to the partition's node and take every value of a
// chunk as a substring of one string (go-redis allocates several objects
// per value, which made the client, not Redis, the bottleneck); a reply
// they do not handle (MOVED, ASK, LOADING, ...) or a broken connection sends
// the keys through go-redis, which follows redirects and reconnects. A key
// deleted between listing and fetch gives no row (Vanished); a key that is
// not a hash gives no row and is counted (OtherTypes: a scan lists keys of
// every type, so that the keys the pattern matched but the scan skipped are
// known; WRONGTYPE replies to the fetch are cheap). Rows
// go into codec.RecordBuilder batches of BatchSize rows, so a task's memory
// is bounded by BatchSize, COUNT and the de-dup window, not by the number of
// keys.
//
// # Deleting
//
// DeletePartition walks a partition like a scan, types each chunk of keys
// with TYPE and UNLINKs the matching keys of the chosen type: hashes by
// default (redstage reads nothing else, so a pattern must not destroy lists
// or sets it never showed unless asked, DeleteOptions.Type "all"); keys of
// other types are counted (DeleteStats.OtherTypes). A dry run counts.
//
// # Writing
//
// WriteBatch writes rows as hashes, atomically per key in every mode (see
// WriteMode and write_cmd.go): new keys with RESTORE of a payload built
// here, in the listpack form only for rows within the server's
// hash-max-listpack-* limits (CONFIG GET) and otherwise in a form the
// server encodes as HSET would, so a key's encoding never depends on the
// path; existing keys with Lua scripts, or, where EVAL/EVALSHA are refused,
// with WATCH/TYPE/MULTI/EXEC. CheckWrite tells before a load whether the
// ACL user may run what the mode needs, running nothing.
//
// # Refusals
//
// A reply that retrying cannot cure is returned as an *AccessError
// wrapping ErrAuth (NOAUTH, WRONGPASS), ErrNoPermission (NOPERM for a
// command, named in AccessError.Command) or ErrBadDB (a database the
// server does not have), from Dial, PlanScan, the partition functions,
// WriteBatch and CheckWrite. A NOPERM about single keys (ACL key patterns)
// is not one: writes count such keys as failed.
package shard
