// Package cluster runs redstage jobs (load, scan, infer, delete) as tasks on
// NATS JetStream: a Coordinator accepts and plans jobs, Workers pull and run
// tasks against Redis through package shard, and a Client submits jobs,
// uploads load input, follows progress and streams merged Arrow results.
// StartEmbedded runs all of it in one process (an in-process NATS server with
// JetStream, a coordinator and workers) over the very same protocol.
//
// # Objects on NATS
//
//   - micro service "redstage-coordinator", endpoints redstage.api.<op>
//     (submit, status, list, cancel, chunk, input): requests and replies are JSON.
//   - stream REDSTAGE_TASKS (work queue, subjects redstage.task.<job>.<task>):
//     one message per task execution request, published with Nats-Msg-Id
//     "<job>.<task>.<gen>" so a re-publish after a coordinator crash is dropped
//     as a duplicate. Durable pull consumer "workers": explicit ack, AckWait,
//     unlimited MaxDeliver (the attempt limit is enforced by the worker from
//     NumDelivered so a task is never silently dropped).
//   - stream REDSTAGE_EVENTS (work queue, subjects redstage.evt.<job>): task
//     started / complete / failed records from workers to the coordinator,
//     durable consumer "coordinator". Processing an event is idempotent.
//   - stream REDSTAGE_RESULTS (limits, subjects redstage.res.<job>.<task>.<attempt>):
//     result frames (Arrow IPC streams of at most the connection's max payload
//     minus header room), each with a frame sequence number header.
//   - KV REDSTAGE_JOBS (job records), KV REDSTAGE_TASK (task records, key
//     "<job>.<task>"), KV REDSTAGE_WORKERS (worker heartbeats, bucket TTL).
//   - stream REDSTAGE_CHUNKS (limits, subjects redstage.chunk.<job>.<chunk>):
//     load input chunks as numbered frames like results.
//   - Both frame streams allow direct get: readers fetch one frame at a
//     time, so memory is bounded by a frame and every read honours its
//     context.
//   - core subjects redstage.ctl.cancel.<job> (a job ended: stop its tasks)
//     and redstage.prog.<job> (rows so far of running tasks, about once a
//     second, for progress display only).
//
// A job's life: the client submits a spec; the coordinator validates it
// (spec rules, then a bounded dial of Redis and, for a load, a check that
// the Redis user may run the write commands, shard.CheckWrite), records the job and, for scan,
// infer and delete, plans partitions with shard.PlanScan, records one task
// per partition and queues them. A load's tasks are added by the client one
// per uploaded chunk (with the chunk's global row offset, so automatic keys
// never collide); its final "input complete" request fixes the task count.
// The job succeeds when every task has a winning attempt (or was replaced by
// re-planned tasks that have).
//
// # Delivery contract
//
// Tasks are delivered at least once. A worker heartbeats a running task with
// InProgress every AckWait/3; a task whose worker dies (crash, kill -9, lost
// connection) is redelivered AckWait after its last heartbeat. Every execution
// gets a fresh attempt id (a NUID) and is numbered by NumDelivered.
//
// A worker acknowledges a task only after its result frames are stored
// (publish acks received) and its complete record is stored on
// REDSTAGE_EVENTS: so a task is either acknowledged with a durable complete
// record or will be delivered again.
//
// Results are exactly once. The coordinator picks the winning attempt of a
// task as the first complete record it processes, with compare-and-swap on the
// task record (KV revision); later complete records of the same task are
// losers and their frames are never read. A client emits a task's rows only
// from the winning attempt's subject, reading exactly the number of frames the
// complete record states and de-duplicating frames by sequence number, so the
// merged output holds every task's rows exactly once. Write tasks (load,
// delete) are idempotent at the Redis level (replace/append/delete give the
// same state when run twice); their counts are those of the winning attempt
// (with --if-exists skip, a rerun after a crash counts the first run's keys
// as skipped).
//
// Fair share. Tasks are not all put on the work queue when a job is planned:
// the coordinator holds planned tasks and releases them as workers can take
// them, one per open worker pull request (the consumer's NumWaiting), but at
// least CoordinatorConfig.QueueAhead (2) waiting, minus those already waiting
// (NumPending). The next task released is chosen round-robin across the jobs
// that hold tasks: each job has a turn, the job at the lowest turn releases
// its next task and moves on, a job that starts holding tasks (submitted, or
// a load whose next chunk arrived) joins at the current turn, and within a
// turn the job holding the fewest tasks goes first. So a small job submitted
// behind big ones gets the next free worker slot (no job waits more than one
// turn of each other job), and concurrent jobs share the workers task by
// task. A release runs when tasks are planned, after each batch of task
// events, and every PollInterval while tasks are held. Held tasks are task
// records in state planned: a coordinator that restarts holds them again
// from its repair pass; several coordinators each release by the same rule,
// and a task is published only while its record says planned, under a
// deduplicating message id. A job whose tasks cannot be queued for 10 s fails
// with the publishing error. With 8 scans and 4 small loads submitted
// together to 2 workers, each load ended about 1.2 s after its submission
// (0.05 s alone) instead of 27 s (BenchmarkFairShareMix).
//
// Failures are bounded. A failed execution is retried by redelivery with
// NakWithDelay (backoff doubling from CoordinatorConfig.RetryBackoff up to
// MaxRetryBackoff) until it has been delivered MaxAttempts times (crashes
// count too); then the task fails and the job fails with the errors of its
// tasks. Errors that cannot be cured by retrying (an unparsable value in
// strict mode, a row too large for a frame, a bad spec, a refusal by Redis:
// shard.ErrAuth, shard.ErrNoPermission, shard.ErrBadDB) fail the task at
// once, and so does a task message that cannot be decoded or names an
// invalid task (ErrMalformedTask: the task named by its subject fails, and
// the job, with the reason; it is never dropped silently). A task that
// reports shard.ErrStaleTopology is re-planned instead: its slot range is
// split by its current owners (shard.ReplanPartition) into new tasks, and
// the task counts as replaced; its attempt's frames are never read, since
// it has no winner. Re-planned tasks follow slots that move and are never
// re-planned again, so a job re-plans each range at most once however long
// a resharding lasts; children are named by their own index (taskID, with
// Parent recording the lineage), so task ids stay short. A Redis node that
// restarted under a cursor partition fails the job (the rows of the node's
// other partitions may already be out, and cursor partitions belong to one
// server process); a slot-cursor attempt that a restart cuts through is
// re-planned like a stale topology (only that range is listed again, on the
// restarted node), and a slot-list task is simply retried. The job's total
// run time for failures is therefore bounded by MaxAttempts × (task timeout
// + backoff), plus one round of re-planning per range.
// An execution that fails or ends after its task was decided elsewhere (a
// late duplicate) stops quietly: it changes nothing.
//
// Deadlines. Every request over NATS has a deadline, so a reply lost on
// the way (a server restarting, a dropped connection) cannot block a task
// whose heartbeats would keep it from being redelivered: a frame get waits
// at most WorkerConfig.RequestTimeout (ClientConfig.FrameTimeout for the
// client's result reader and chunk uploads, 10s each) and is sent again up
// to three times before the read fails (the task is then retried like any
// failure); a frame publish waits as long for its ack; event publishes and
// record reads have their own bounds. A Job handle and the result reader
// also read their records every 2s, so a job that finished while their KV
// watch was recovering from a server restart is noticed at once.
//
// Storage. When the JetStream store refuses a write for lack of space
// (nats-server's max_file_store, an account or stream limit, a full disk
// that made the server switch JetStream off), retrying cannot help: the
// task fails at once (one attempt) and so does the job, with a
// *StoreFullError (ErrStoreFull) naming the server, the stream and the
// store's use and limit. Records cannot be written into a full store, so
// the worker and the coordinator first purge the failing job's result
// frames and load chunks, which makes room for the records that end it
// (cancelling a job does the same). A client whose upload failed and whose
// report of it could not be recorded does not wait for the job's end. Once
// the job's data is gone the store has room again and later jobs run
// without restarting anything. If the store is full of other data (unread
// results of other jobs, foreign streams), nothing can be recorded until
// space is freed; tasks are then handed back with a delay.
//
// A full disk (ENOSPC) is worse: nats-server marks a stream whose write
// failed as broken, its publishes get no reply (a frame publish then fails
// after its ack timeout, saying the store may be failing) and purges fail
// too, until JetStream restarts. An in-process server (StartNATS: the
// embedded cluster, coordinator --embedded-nats) checks JetStream's health
// every 2s and restarts JetStream as soon as the store's disk has 4 MiB
// free again, so the stuck job ends and later jobs run without restarting
// the process. A standalone nats-server needs a restart (or config reload)
// once space is freed.
//
// Abandoned results. Job.Abandon cancels a job whose results will not be
// read (the CLI calls it when its output pipe is closed): a running job is
// cancelled with the reason, and a scan whose tasks had all succeeded is
// marked cancelled too, so its frames are purged at once instead of after
// ResultRetention.
//
// Draining. A worker whose Run context is cancelled stops pulling, lets its
// running tasks finish for DrainTimeout, then hands the rest back with Nak
// (redelivered at once to another worker) and returns.
//
// Cancellation. Cancelling a job marks its record cancelled, purges its queued
// tasks and broadcasts on redstage.ctl.cancel.<job>; workers cancel the
// context of running tasks of that job at once (and check the job record
// before starting and at every heartbeat), so they stop within seconds.
//
// Counts of a write job that did not complete. A load or delete task cut
// short by its job's end publishes a "stopped" event with what it wrote
// (shard.WriteBatch reads pipelines already sent to their end, so the count
// is exact), and a task failing for good carries its counts in its failed
// event. The coordinator adds those, once per task, and complete records
// processed after the job ended to the job record's late counts; status
// and Job.Wait/Job.Settle add them to the result and mark it a lower bound
// with the reason (JobResult.LowerBound). Job.Settle waits up to 10s for
// the tasks that were running to report and counts those that did not
// (JobResult.Unreported).
//
// Restarts. All job and task state lives in JetStream (KV records, durable
// consumers). A coordinator that starts finds unfinished jobs and resumes
// them (and re-checks them every RepairInterval): it plans again jobs whose
// planning was cut short, queues tasks left planned, completes interrupted
// re-plans, finishes jobs whose tasks all completed meanwhile, and fails
// load jobs whose uploader has been silent for InputTimeout. Task events
// sent while no coordinator ran wait in REDSTAGE_EVENTS. An uploading client
// retries its requests for ClientConfig.RetryFor while no coordinator answers.
//
// Cleanup. Result frames of failed or cancelled jobs are purged at once, and
// so are those of losing attempts; a winner's frames are purged by the client
// once it has read them, or by the stream's MaxAge
// (CoordinatorConfig.ResultRetention) if nobody reads them. Load chunks are purged
// when their task has a winner and, at the latest, when the job ends.
//
// Credentials. The job's Redis URL, password included, is stored in the job
// record and in its task messages, because workers need it; it is logged and
// reported only redacted (shard.RedactURL). Protect the NATS server
// accordingly.
//
// Memory. Neither the coordinator nor the client holds a job's data: load
// input is cut into chunks while read, and at most
// ClientConfig.MaxPendingChunks chunks wait in the store for workers;
// results are read frame by frame from the stream (each winner's frames are
// purged once read), workers keep at most a few frames per task
// unacknowledged, and sorted output (ResultOptions.Sort) spills sorted runs
// of bounded size to temporary Arrow IPC files and merges them.
package cluster
