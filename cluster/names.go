package cluster

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// Names of redstage's JetStream objects and subjects (see the package doc).
const (
	streamTasks   = "REDSTAGE_TASKS"
	streamEvents  = "REDSTAGE_EVENTS"
	streamResults = "REDSTAGE_RESULTS"
	bucketJobs    = "REDSTAGE_JOBS"
	bucketTasks   = "REDSTAGE_TASK"
	bucketWorkers = "REDSTAGE_WORKERS"
	streamChunks  = "REDSTAGE_CHUNKS"

	consumerWorkers     = "workers"
	consumerCoordinator = "coordinator"

	subjTaskPrefix   = "redstage.task."
	subjEventPrefix  = "redstage.evt."
	subjResultPrefix = "redstage.res."
	subjChunkPrefix  = "redstage.chunk."
	subjCancelPrefix = "redstage.ctl.cancel."
	subjProgPrefix   = "redstage.prog."
	subjAPIPrefix    = "redstage.api."

	serviceName = "redstage-coordinator"

	// Headers of result frames.
	hdrFrame = "Redstage-Frame" // 0-based frame sequence number within an attempt
)

func taskSubject(job, task string) string { return subjTaskPrefix + job + "." + task }
func eventSubject(job string) string      { return subjEventPrefix + job }
func cancelSubject(job string) string     { return subjCancelPrefix + job }
func progressSubject(job string) string   { return subjProgPrefix + job }
func jobResultsFilter(job string) string  { return subjResultPrefix + job + ".>" }
func taskKey(job, task string) string     { return job + "." + task }
func chunkSubject(job string, idx int) string {
	return fmt.Sprintf("%s%s.%06d", subjChunkPrefix, job, idx)
}
func jobChunksFilter(job string) string { return subjChunkPrefix + job + ".>" }

func resultSubject(job, task, attempt string) string {
	return subjResultPrefix + job + "." + task + "." + attempt
}

// taskID names the task of index idx (plan position, or the index a
// re-planned child was given): at most 11 characters for any int32 index.
func taskID(idx int) string { return fmt.Sprintf("t%05d", idx) }

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newJobID returns a time-ordered, subject-safe job id such as
// "260511-142233-k3j9qz".
func newJobID(now time.Time) string {
	return now.UTC().Format("060102-150405") + "-" + randomToken(6)
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err)) // never fails on supported platforms
	}
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return string(b)
}

// validToken reports whether s can be one NATS subject token and KV key part.
func validToken(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

// jobOfSubject returns the job token of an event or cancel subject.
func jobOfSubject(subj, prefix string) string {
	rest := strings.TrimPrefix(subj, prefix)
	if i := strings.IndexByte(rest, '.'); i >= 0 {
		return rest[:i]
	}
	return rest
}
