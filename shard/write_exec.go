package shard

import (
	"context"
	"fmt"
	"hash/maphash"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// writeRestore writes new keys with RESTORE (write_dump.go). A variable
// only so that benchmarks can compare with HSET and scripts alone.
var writeRestore = true

// writeScripts uses the Lua scripts while the server allows them; off,
// the watch path replaces them (a variable so that tests and benchmarks
// can compare).
var writeScripts = true

// writeLanesPerMaster gives each cluster master lanes of its own. Off,
// every pipeline holds keys of all masters and go-redis splits it per
// node (each round waits for the slowest master). A variable only so that
// BenchmarkWriteLanes can compare the two.
var writeLanesPerMaster = true

// expiry of one key.
type expiryKind uint8

const (
	expireNone expiryKind = iota
	expireIn              // ms from now (PEXPIRE)
	expireAt              // Unix ms (PEXPIREAT)
)

type expiry struct {
	kind expiryKind
	ms   int64
}

// batchCmd is one row queued in a writeBatch: strs[start] is its key and
// strs[start+1:end] its field/value pairs.
type batchCmd struct {
	row        int64
	start, end int
	exp        expiry
	listpack   bool      // kept as a listpack by the server: listpack payload (write_dump.go)
	path       writePath // command of the current round
}

// writeBatch is the content of one pipeline. Its buffers are reused from
// one pipeline to the next, so a steady write allocates little besides
// the formatted values and go-redis's command objects.
type writeBatch struct {
	strs  []string
	cmds  []batchCmd
	args  []any
	offs  []int
	pcmds []*redis.Cmd
	todo  []int
	again []int
	watch []int  // rows of the round on the watch path (write_watch.go)
	later []int  // rows postponed behind a watched row of the same key
	dump  []byte // RESTORE payloads of the round
	doffs []int  // payload boundaries in dump
	lp    []byte // listpack scratch
}

func (b *writeBatch) reset() {
	clear(b.strs)
	clear(b.args)
	clear(b.pcmds)
	b.strs, b.cmds, b.args, b.pcmds = b.strs[:0], b.cmds[:0], b.args[:0], b.pcmds[:0]
}

// writeLane executes pipelines one after the other on one connection at
// a time; rows with the same key always go to the same lane, so they are
// applied in row order.
type writeLane struct {
	in    chan *writeBatch
	stats WriteStats
	// direct counts batches still to send without RESTORE: after a batch
	// whose keys mostly existed already (BUSYKEY), the next backoff ones
	// go to HSET/the script directly, then RESTORE is tried again; the
	// backoff doubles (up to 64) while the keys keep existing.
	direct, backoff int
}

// writeExecutor runs the pipelines of one WriteBatch call: the caller's
// goroutine fills batches (rowWriter.run), one goroutine per lane sends
// them. The first error cancels the executor's context, which stops the
// other lanes and the producer; wait returns it.
type writeExecutor struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	parent context.Context
	// io is the context of the commands: not cancelled with the caller's
	// context, so a pipeline already sent is read to its end and its keys
	// are counted (bounded by the client's read timeout). Cancelling ctx
	// stops new pipelines; the counts of a cut-short call are exact.
	io    context.Context
	c     *Client
	rdb   redis.UniversalClient
	opts  WriteOptions
	mode  any // ARGV[1] of writeScript
	lanes []*writeLane
	cur   []*writeBatch // batch being filled, per lane
	free  chan *writeBatch
	seed  maphash.Seed
	// owner maps a cluster slot to the index of its master in the
	// topology read at the start (nil for a standalone server): each
	// master gets InFlight lanes of its own, so a pipeline goes to one
	// master and a slow master does not hold up the others. A stale map
	// only costs grouping: go-redis still routes every key by its slot.
	owner []uint16
	wg    sync.WaitGroup
	load  sync.Mutex // serialises script loading
	// restore is cleared when the server refuses a RESTORE payload (old
	// server, ACL, renamed command): the rest of the call writes without.
	restore atomic.Bool
	// scripts is cleared when the server refuses EVALSHA or SCRIPT LOAD
	// (ACL, renamed command): the rest of the call uses the watch path.
	scripts atomic.Bool
	limits  listpackLimits // the server's listpack limits (write_limits.go)
	refused []string       // commands the server refused (under load)
}

func newWriteExecutor(ctx context.Context, c *Client, opts WriteOptions) *writeExecutor {
	ictx, cancel := context.WithCancelCause(ctx)
	ex := &writeExecutor{
		ctx: ictx, cancel: cancel, parent: ctx, io: context.WithoutCancel(ctx), c: c, rdb: c.Redis(), opts: opts,
		mode: string(opts.Mode),
		seed: maphash.MakeSeed(),
	}
	nlanes := opts.InFlight
	if t := c.Topology(); writeLanesPerMaster && c.IsCluster() && t != nil && len(t.Masters) > 1 {
		ex.owner = make([]uint16, NumSlots)
		for i, m := range t.Masters {
			for _, r := range m.Slots {
				for s := max(r.Start, 0); s <= min(r.End, NumSlots-1); s++ {
					ex.owner[s] = uint16(i)
				}
			}
		}
		nlanes *= len(t.Masters)
	}
	ex.restore.Store(writeRestore && restoreSupported(c.Topology()))
	ex.scripts.Store(writeScripts)
	if ex.restore.Load() {
		ex.limits = c.listpackLimits(ctx)
	}
	ex.lanes = make([]*writeLane, nlanes)
	ex.cur = make([]*writeBatch, nlanes)
	// Per lane: one batch being filled, one queued, one executing.
	ex.free = make(chan *writeBatch, 3*nlanes)
	for range 3 * nlanes {
		ex.free <- &writeBatch{}
	}
	for i := range ex.lanes {
		l := &writeLane{in: make(chan *writeBatch, 1)}
		ex.lanes[i] = l
		ex.wg.Add(1)
		go ex.runLane(l)
	}
	return ex
}

// runLane executes the lane's batches in order until its channel closes.
// After an error it only recycles batches.
func (ex *writeExecutor) runLane(l *writeLane) {
	defer ex.wg.Done()
	for b := range l.in {
		if ex.ctx.Err() == nil {
			if err := ex.exec(l, b); err != nil {
				ex.cancel(err)
			}
		}
		b.reset()
		ex.free <- b
	}
}

// lane chooses the lane of key: the same key always gets the same lane.
func (ex *writeExecutor) lane(key string) int {
	if ex.owner != nil {
		slot := KeySlot(key)
		return int(ex.owner[slot])*ex.opts.InFlight + slot%ex.opts.InFlight
	}
	if len(ex.lanes) == 1 {
		return 0
	}
	return int(maphash.String(ex.seed, key) % uint64(len(ex.lanes)))
}

// batch returns the batch being filled for lane, taking a free one if
// needed; nil once the executor has stopped.
func (ex *writeExecutor) batch(lane int) *writeBatch {
	if b := ex.cur[lane]; b != nil {
		return b
	}
	select {
	case b := <-ex.free:
		ex.cur[lane] = b
		return b
	case <-ex.ctx.Done():
		return nil
	}
}

// added sends the lane's batch once it holds a pipeline's worth of keys.
func (ex *writeExecutor) added(lane int) {
	if len(ex.cur[lane].cmds) >= ex.opts.Pipeline {
		ex.submit(lane)
	}
}

func (ex *writeExecutor) submit(lane int) {
	b := ex.cur[lane]
	ex.cur[lane] = nil
	select {
	case ex.lanes[lane].in <- b:
	case <-ex.ctx.Done():
	}
}

// flush sends the partly filled batches.
func (ex *writeExecutor) flush() {
	for i, b := range ex.cur {
		if b != nil && len(b.cmds) > 0 {
			ex.submit(i)
		}
	}
}

// wait stops the lanes once their batches are done and returns their
// stats and the first error.
func (ex *writeExecutor) wait() ([]WriteStats, error) {
	for _, l := range ex.lanes {
		close(l.in)
	}
	ex.wg.Wait()
	err := context.Cause(ex.ctx)
	ex.cancel(nil)
	if err != nil && ex.parent.Err() != nil {
		err = fmt.Errorf("writing hashes: %w", ex.parent.Err())
	}
	stats := make([]WriteStats, len(ex.lanes))
	for i, l := range ex.lanes {
		stats[i] = l.stats
	}
	return stats, err
}

// exec writes the batch and counts each key's outcome. A round sends one
// pipeline (and writes the rows on the watch path, write_watch.go); keys
// that need another command (BUSYKEY, NOSCRIPT, a refused payload or
// script, a key deleted under a skip probe) are sent again in a further
// round, in row order, so the last of several rows with one key still wins.
func (ex *writeExecutor) exec(l *writeLane, b *writeBatch) error {
	restore := l.direct == 0
	if l.direct > 0 {
		l.direct--
	}
	b.todo = b.todo[:0]
	for i := range b.cmds {
		c := &b.cmds[i]
		c.listpack = ex.limits.fits(b.strs[c.start+1 : c.end])
		c.path = ex.firstPath(c, restore)
		b.todo = append(b.todo, i)
	}
	loads := 0
	for round := 0; ; round++ {
		if round > 0 && ex.ctx.Err() != nil {
			return context.Cause(ex.ctx) // the keys left were not written (nor counted)
		}
		b.splitWatched()
		b.again = b.again[:0]
		noScript, err := ex.sendRound(l, b, round)
		if err != nil {
			return err
		}
		if err := ex.execWatched(&l.stats, b, b.watch); err != nil {
			return err
		}
		if len(b.later) > 0 {
			b.again = append(b.again, b.later...)
			slices.Sort(b.again)
		}
		if len(b.again) == 0 {
			return nil
		}
		if round >= 8 {
			c := &b.cmds[b.again[0]]
			return fmt.Errorf("writing to %s: key %q keeps changing type or existence while being written; try again", ex.nodeOf(b.strs[c.start]), b.strs[c.start])
		}
		if noScript != nil {
			if loads++; loads > 2 {
				return fmt.Errorf("writing to %s: the write scripts keep disappearing: %w", ex.nodeOf(b.strs[b.cmds[b.again[0]].start]), noScript)
			}
			if err := ex.reloadScripts(b, noScript); err != nil {
				return err
			}
		}
		b.todo, b.again = b.again, b.todo
	}
}

// sendRound sends the pipeline of the rows b.todo and judges each reply:
// outcomes are counted, rows to send again appended to b.again. It
// returns the NOSCRIPT error of the round, if any.
func (ex *writeExecutor) sendRound(l *writeLane, b *writeBatch, round int) (noScript, err error) {
	if len(b.todo) == 0 {
		return nil, nil
	}
	st := &l.stats
	ex.buildArgs(b)
	pipe := ex.rdb.Pipeline()
	for _, cmd := range b.pcmds {
		_ = pipe.Process(ex.io, cmd)
	}
	_, _ = pipe.Exec(ex.io) // outcomes are read per command below
	restored, busy := 0, 0
	for j, i := range b.todo {
		c := &b.cmds[i]
		first := c.path
		out, err := ex.judge(c, b.pcmds[j])
		if round == 0 && first == pathRestore {
			if out == outWritten {
				restored++
			} else if c.path != pathRestore {
				busy++
			}
		}
		switch out {
		case outWritten, outSkipped, outFailed:
			ex.count(st, b, i, out, err)
		case outAgain:
			b.again = append(b.again, i)
		case outNoScript:
			b.again = append(b.again, i)
			noScript = err
		case outRefused, outScriptRefused:
			ex.refuse(out, err, b.strs[c.start])
			c.path = ex.existingPath(c)
			b.again = append(b.again, i)
		case outNodeError:
			return nil, ex.nodeError(b.strs[c.start], len(b.todo), err)
		}
	}
	if round == 0 && restored+busy > 0 {
		l.noteRestores(restored, busy)
	}
	return noScript, nil
}

// refuse stops using RESTORE (outRefused) or the scripts
// (outScriptRefused) for the rest of the call.
func (ex *writeExecutor) refuse(out outcome, err error, key string) {
	cmd, ok := deniedCommand(err.Error())
	if out == outRefused {
		if !ok {
			cmd = "restore"
		}
		ex.noteRefused(cmd)
		if ex.restore.CompareAndSwap(true, false) {
			ex.c.Logger().Warn("RESTORE refused, writing hashes with HSET, scripts or WATCH/MULTI", "node", ex.nodeOf(key), "error", err.Error())
		}
		return
	}
	if !ok {
		cmd = "evalsha"
	}
	ex.noteRefused(cmd)
	if ex.scripts.CompareAndSwap(true, false) {
		ex.c.Logger().Warn("Lua scripts refused, writing existing keys with WATCH/MULTI/EXEC", "node", ex.nodeOf(key), "error", err.Error())
	}
}

// reloadScripts loads the scripts after NOSCRIPT; a server that refuses
// SCRIPT LOAD sends the rows of b.again to the watch path instead.
func (ex *writeExecutor) reloadScripts(b *writeBatch, noScript error) error {
	ex.c.Logger().Debug("loading the write scripts", "reason", noScript.Error(), "keys", len(b.again))
	err := ex.loadScripts()
	if err == nil {
		return nil
	}
	if !commandRefused(err) {
		return err
	}
	ex.refuse(outScriptRefused, err, "")
	for _, i := range b.again {
		c := &b.cmds[i]
		if c.path == pathScript || c.path == pathRestoreReplace {
			c.path = ex.existingPath(c)
		}
	}
	return nil
}

// splitWatched moves the rows of b.todo on the watch path to b.watch, and
// rows behind a watched row of the same key to b.later (the pipeline is
// sent before the watched rows are written).
func (b *writeBatch) splitWatched() {
	b.watch, b.later = b.watch[:0], b.later[:0]
	var first map[string]int
	for _, i := range b.todo {
		if b.cmds[i].path != pathWatch {
			continue
		}
		b.watch = append(b.watch, i)
		if first == nil {
			first = map[string]int{}
		}
		if _, ok := first[b.strs[b.cmds[i].start]]; !ok {
			first[b.strs[b.cmds[i].start]] = i
		}
	}
	if len(b.watch) == 0 {
		return
	}
	keep := b.todo[:0]
	for _, i := range b.todo {
		c := &b.cmds[i]
		if c.path == pathWatch {
			continue
		}
		if w, ok := first[b.strs[c.start]]; ok && w < i {
			b.later = append(b.later, i)
			continue
		}
		keep = append(keep, i)
	}
	b.todo = keep
}

// noteRestores adapts the lane to the outcome of a batch's RESTOREs.
func (l *writeLane) noteRestores(restored, busy int) {
	if busy <= restored {
		l.backoff = 0
		return
	}
	l.backoff = min(max(2*l.backoff, 8), 64)
	l.direct = l.backoff
}
