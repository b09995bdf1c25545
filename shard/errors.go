package shard

import "errors"

// Sentinel errors of package shard. Callers test them with errors.Is; the
// errors returned carry context (node, slot, partition) around them.
var (
	// ErrInvalidURL: the Redis URL cannot be parsed or is not supported.
	ErrInvalidURL = errors.New("invalid redis URL")
	// ErrClusterDB: a database other than 0 was requested on a cluster.
	ErrClusterDB = errors.New("redis cluster supports only database 0")
	// ErrInvalidPartition: a Partition value is malformed (unknown kind,
	// bits out of range, slot range outside 0..16383, ...).
	ErrInvalidPartition = errors.New("invalid partition")
	// ErrInvalidOptions: scan, plan or delete options fail validation.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrStaleTopology: the partition was planned for a topology that no
	// longer holds (its node no longer owns its slots, the node is gone, or
	// the partition kind does not fit the server). The coordinator re-plans
	// the job (or at least the node's partitions) and reruns the task.
	ErrStaleTopology = errors.New("stale topology: re-plan the job")
	// ErrServerRestarted: the node's run_id differs from the one the
	// partition was planned with (restart or failover). SCAN cursors and the
	// hash seed that places keys in cursor partitions belong to one server
	// process, so every cursor partition of that node must be re-planned and
	// rerun, and the rows of the failed attempts discarded. On a
	// slot-cursor partition only the attempt's cursors belong to the old
	// process: the error then also wraps ErrStaleTopology, and
	// ReplanPartition lists the range again.
	ErrServerRestarted = errors.New("server restarted since the partition was planned")
	// ErrTableShrank: the keyspace hash table shrank so far during the scan
	// that the bounded de-duplication window of the task can no longer rule
	// out a repeated key. Rerun the task (its rows discarded); nothing else
	// is affected.
	ErrTableShrank = errors.New("hash table shrank beyond the de-duplication window: rerun the task")
	// ErrSlotUnstable: a slot kept changing owner while it was being listed.
	ErrSlotUnstable = errors.New("slot kept moving while being listed: rerun the task")
)
