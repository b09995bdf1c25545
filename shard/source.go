package shard

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// keySource yields the keys of one partition, each key of the partition at
// most once (the de-duplication happens here), in chunks.
type keySource interface {
	// next returns the next chunk of keys; io.EOF when the partition is done.
	next(ctx context.Context) ([]string, error)
	// finish runs the end-of-task checks (same server process, same
	// topology) that make the keys already returned trustworthy.
	finish(ctx context.Context) error
	// hashOnly reports whether the keys are known to be hashes (SCAN TYPE
	// hash, sourceOptions.hashOnly); otherwise keys of every type come.
	hashOnly() bool
}

// sourceStats are counters shared by the sources.
type sourceStats struct {
	scanned    int64 // keys returned by the server for the partition
	duplicates int64 // repeats dropped
	calls      int64 // SCAN / GETKEYSINSLOT calls
	retries    int64 // SCAN calls discarded because they crossed the partition end
	followed   int64 // slots listed again because they moved while being listed
}

// sourceOptions configure a key source.
type sourceOptions struct {
	pattern string
	count   int // SCAN COUNT hint
	window  int // de-dup window in keys; < 0 unbounded
	// allTypes: SCAN without TYPE hash, so that the caller sees (and can
	// count) keys of other types. Slot listing always returns every type.
	allTypes bool
}

// scanType is the TYPE argument of SCAN: "hash", or "" for every type.
func (o sourceOptions) scanType() string {
	if o.allTypes {
		return ""
	}
	return "hash"
}

const defaultWindow = 1 << 16

func openSource(ctx context.Context, c *Client, p Partition, o sourceOptions, st *sourceStats) (keySource, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if o.count <= 0 {
		o.count = 1000
	}
	if o.window == 0 {
		o.window = defaultWindow
	}
	if err := waitLoaded(ctx, c, p.Node); err != nil {
		return nil, fmt.Errorf("partition %s: %w", p, err)
	}
	rc := newRunCheck(c, p)
	switch p.Kind {
	case KindSlots:
		// Slot listing keeps no server-side state: a restarted node is
		// simply listed again (keys it lost were not present throughout).
		rc.p.RunID = ""
	case KindSlotCursor:
		// Which slots a slot-cursor partition holds is fixed by CRC16, not
		// by the server process: an attempt is bound to the process it
		// starts on (its SCAN cursors are), whatever the plan saw.
		id, err := c.runID(ctx, p.Node)
		if err != nil {
			return nil, fmt.Errorf("partition %s: %w", p, err)
		}
		rc.p.RunID = id
	}
	if err := rc.check(ctx); err != nil {
		return nil, err
	}
	switch p.Kind {
	case KindCursor:
		return newCursorSource(ctx, c, p, o, st, rc)
	case KindSlots:
		return newSlotsSource(ctx, c, p, o, st, rc)
	case KindSlotCursor:
		return newSlotCursorSource(ctx, c, p, o, st, rc)
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalidPartition, p.Kind)
}

// loadingPoll is how often an attempt re-reads a loading node's state.
const loadingPoll = 100 * time.Millisecond

// waitLoaded waits while the node is loading its data set (a restarted
// server reading its RDB or AOF answers LOADING to reads): an attempt that
// starts then waits instead of failing, so a master restart costs a task at
// most the attempts it cut through, however long the load takes. Bounded by
// ctx (the task's timeout). On a cluster it then waits, at most
// clusterStateWait, for the node to see the cluster as ok again (a node that
// has just loaded answers CLUSTERDOWN until it has heard from the others).
// Any other error is left to the checks that follow.
func waitLoaded(ctx context.Context, c *Client, addr string) error {
	node := c.Node(addr)
	for {
		info, err := node.Info(ctx, "persistence").Result()
		loading := err == nil && infoField(info, "loading") == "1" ||
			err != nil && strings.HasPrefix(err.Error(), "LOADING")
		if !loading {
			break
		}
		if err := pause(ctx, addr, "to load its data set"); err != nil {
			return err
		}
	}
	if !c.Topology().Cluster {
		return nil
	}
	deadline := time.Now().Add(clusterStateWait)
	for time.Now().Before(deadline) {
		info, err := node.ClusterInfo(ctx).Result()
		if err != nil || infoField(info, "cluster_state") == "ok" {
			return nil
		}
		if err := pause(ctx, addr, "to see the cluster as ok"); err != nil {
			return err
		}
	}
	return nil
}

// clusterStateWait bounds how long an attempt waits for a node that has
// just loaded its data to see the cluster as ok.
const clusterStateWait = 15 * time.Second

// pause waits loadingPoll, or returns why ctx ended.
func pause(ctx context.Context, addr, what string) error {
	select {
	case <-ctx.Done():
		return fmt.Errorf("waiting for %s %s: %w", addr, what, context.Cause(ctx))
	case <-time.After(loadingPoll):
		return nil
	}
}

// runCheck compares the node's run_id with the partition's, at the start,
// at most once per interval while scanning, and at the end.
type runCheck struct {
	c        *Client
	p        Partition
	node     *redis.Client
	last     time.Time
	interval time.Duration
}

func newRunCheck(c *Client, p Partition) *runCheck {
	return &runCheck{c: c, p: p, node: c.Node(p.Node), interval: time.Second}
}

func (r *runCheck) check(ctx context.Context) error {
	r.last = time.Now()
	if r.p.RunID == "" {
		return nil
	}
	id, err := r.c.runID(ctx, r.p.Node)
	if err != nil {
		return fmt.Errorf("partition %s: %w", r.p, err)
	}
	if id != r.p.RunID {
		return fmt.Errorf("partition %s: run_id %s, planned with %s: %w", r.p, id, r.p.RunID, ErrServerRestarted)
	}
	return nil
}

func (r *runCheck) maybe(ctx context.Context) error {
	if time.Since(r.last) < r.interval {
		return nil
	}
	return r.check(ctx)
}
