package shard

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// writeScript writes one hash atomically for the replace and skip modes,
// and for append when the row sets an expiry (append without expiry is a
// plain HSET, atomic on its own).
//
// KEYS[1] is the key; ARGV[1] the mode; ARGV[2] the expiry kind ("" none,
// "px" ARGV[3] milliseconds from now, "at" ARGV[3] Unix milliseconds);
// ARGV[4..] field, value, ... A key of another type is never touched: HLEN
// fails with WRONGTYPE and that error is the reply. HSET is called in
// chunks because Lua's unpack is limited to a few thousand values.
//
// Measured against MULTI/DEL/HSET/EXEC (see write_bench_test.go): the
// transaction costs about as much server CPU but cannot look at the key
// before deleting it, so replace would clobber keys of other types.
var writeScript = redis.NewScript(writeScriptSrc)

const writeScriptSrc = `local key = KEYS[1]
local n = redis.pcall('HLEN', key)
if type(n) == 'table' then return n end
if n > 0 then
  if ARGV[1] == 'skip' then return 0 end
  if ARGV[1] == 'replace' then redis.call('DEL', key) end
end
local last = #ARGV
for i = 4, last, 1000 do
  redis.call('HSET', key, unpack(ARGV, i, math.min(i + 999, last)))
end
if ARGV[2] == 'px' then redis.call('PEXPIRE', key, ARGV[3])
elseif ARGV[2] == 'at' then redis.call('PEXPIREAT', key, ARGV[3]) end
return 1`

// writeRestore writes new keys with RESTORE (write_dump.go). A variable
// only so that benchmarks can compare with HSET and scripts alone.
var writeRestore = true

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

// Command arguments boxed once (constant strings box without allocating,
// but keeping them here documents the wire form).
var (
	argHSet    any = "hset"
	argRestore any = "restore"
	argZero    any = "0"
	argAbsTTL  any = "absttl"
	argEvalSHA any = "evalsha"
	argOneKey  any = "1"
	argSHA     any = writeScript.Hash()
	argKind        = [...]any{expireNone: "", expireIn: "px", expireAt: "at"}
)

// batchCmd is one row queued in a writeBatch: strs[start] is its key and
// strs[start+1:end] its field/value pairs.
type batchCmd struct {
	row        int64
	start, end int
	exp        expiry
	direct     bool // HSET or script, not RESTORE (set per attempt)
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
	dump  []byte // RESTORE payloads of the attempt
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
	c      *Client
	rdb    redis.UniversalClient
	opts   WriteOptions
	mode   any // ARGV[1] of writeScript
	lanes  []*writeLane
	cur    []*writeBatch // batch being filled, per lane
	free   chan *writeBatch
	seed   maphash.Seed
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
}

func newWriteExecutor(ctx context.Context, c *Client, opts WriteOptions) *writeExecutor {
	ictx, cancel := context.WithCancelCause(ctx)
	ex := &writeExecutor{
		ctx: ictx, cancel: cancel, parent: ctx, c: c, rdb: c.Redis(), opts: opts,
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

// needsScript reports whether c is written with writeScript rather than a
// plain HSET.
func (ex *writeExecutor) needsScript(c *batchCmd) bool {
	return ex.opts.Mode != ModeAppend || c.exp.kind != expireNone
}

// exec sends the batch as one pipeline and counts each key's outcome.
// New keys are written with RESTORE; keys that exist (BUSYKEY) are sent
// again, in order, with HSET or the script. Keys whose script was missing
// on the server (NOSCRIPT: restart, failover, SCRIPT FLUSH) did not run:
// the script is loaded and they are sent again.
func (ex *writeExecutor) exec(l *writeLane, b *writeBatch) error {
	st := &l.stats
	restore := ex.restore.Load() && l.direct == 0
	if l.direct > 0 {
		l.direct--
	}
	b.todo = b.todo[:0]
	for i := range b.cmds {
		c := &b.cmds[i]
		c.direct = !restore || !dumpEligible(b.strs[c.start+1:c.end])
		b.todo = append(b.todo, i)
	}
	loads := 0
	for round := 0; ; round++ {
		ex.buildArgs(b)
		pipe := ex.rdb.Pipeline()
		for _, cmd := range b.pcmds {
			_ = pipe.Process(ex.ctx, cmd)
		}
		_, _ = pipe.Exec(ex.ctx) // outcomes are read per command below
		b.again = b.again[:0]
		var noScript error
		restored, busy := 0, 0
		for j, i := range b.todo {
			c := &b.cmds[i]
			cmd := b.pcmds[j]
			err := cmd.Err()
			switch {
			case err == nil:
				if !c.direct {
					restored++
					st.Written++
				} else if v, _ := cmd.Val().(int64); ex.needsScript(c) && v == 0 {
					st.Skipped++
				} else {
					st.Written++
				}
			case !c.direct && hasRedisPrefix(err, "BUSYKEY"):
				busy++
				c.direct = true
				b.again = append(b.again, i)
			case hasRedisPrefix(err, "NOSCRIPT"):
				b.again = append(b.again, i)
				noScript = err
			case !isKeyError(err):
				return fmt.Errorf("writing %d keys to %s: %w", len(b.todo), ex.nodeOf(b.strs[c.start]), err)
			case !c.direct:
				// The server refused the payload itself: write without.
				if ex.restore.CompareAndSwap(true, false) {
					ex.c.Logger().Warn("RESTORE refused, writing hashes with HSET and scripts", "node", ex.nodeOf(b.strs[c.start]), "error", err.Error())
				}
				c.direct = true
				b.again = append(b.again, i)
			default:
				st.Failed++
				if len(st.Failures) < ex.opts.MaxFailures {
					st.Failures = append(st.Failures, KeyFailure{Key: b.strs[c.start], Row: c.row, Err: err.Error()})
				}
			}
		}
		if restore && round == 0 {
			l.noteRestores(restored, busy)
		}
		if len(b.again) == 0 {
			return nil
		}
		if noScript != nil {
			if loads++; loads > 2 {
				return fmt.Errorf("writing to %s: the write script keeps disappearing: %w", ex.nodeOf(b.strs[b.cmds[b.again[0]].start]), noScript)
			}
			ex.c.Logger().Debug("loading the write script", "reason", noScript.Error(), "keys", len(b.again))
			if err := ex.loadScript(); err != nil {
				return err
			}
		}
		b.todo, b.again = b.again, b.todo
	}
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

// buildArgs fills b.pcmds with one command per row of b.todo. Arguments
// point into b.strs (a *string boxes without allocating) and b.dump, which
// stay unchanged until the next attempt.
func (ex *writeExecutor) buildArgs(b *writeBatch) {
	b.dump, b.doffs = b.dump[:0], b.doffs[:0]
	for _, i := range b.todo {
		if c := &b.cmds[i]; !c.direct {
			b.doffs = append(b.doffs, len(b.dump))
			b.dump, b.lp = appendHashDump(b.dump, b.lp, b.strs[c.start+1:c.end])
		}
	}
	b.doffs = append(b.doffs, len(b.dump))
	b.args, b.offs = b.args[:0], b.offs[:0]
	d := 0
	for _, i := range b.todo {
		c := &b.cmds[i]
		b.offs = append(b.offs, len(b.args))
		if !c.direct {
			payload := b.dump[b.doffs[d]:b.doffs[d+1]:b.doffs[d+1]]
			d++
			switch c.exp.kind {
			case expireNone:
				b.args = append(b.args, argRestore, &b.strs[c.start], argZero, payload)
			case expireIn:
				b.args = append(b.args, argRestore, &b.strs[c.start], strconv.FormatInt(c.exp.ms, 10), payload)
			case expireAt:
				b.args = append(b.args, argRestore, &b.strs[c.start], strconv.FormatInt(c.exp.ms, 10), payload, argAbsTTL)
			}
			continue
		}
		if ex.needsScript(c) {
			var val any = ""
			if c.exp.kind != expireNone {
				val = strconv.FormatInt(c.exp.ms, 10)
			}
			b.args = append(b.args, argEvalSHA, argSHA, argOneKey, &b.strs[c.start], ex.mode, argKind[c.exp.kind], val)
		} else {
			b.args = append(b.args, argHSet, &b.strs[c.start])
		}
		for k := c.start + 1; k < c.end; k++ {
			b.args = append(b.args, &b.strs[k])
		}
	}
	b.offs = append(b.offs, len(b.args))
	clear(b.pcmds)
	b.pcmds = b.pcmds[:0]
	for j, i := range b.todo {
		lo, hi := b.offs[j], b.offs[j+1]
		cmd := redis.NewCmd(ex.ctx, b.args[lo:hi:hi]...)
		if c := &b.cmds[i]; c.direct && ex.needsScript(c) {
			cmd.SetFirstKeyPos(3)
		} else {
			cmd.SetFirstKeyPos(1)
		}
		b.pcmds = append(b.pcmds, cmd)
	}
}

// restoreSupported reports whether the server loads RDB type 16 payloads
// (Redis 7.0+, Valkey 7.2+).
func restoreSupported(t *Topology) bool {
	if t == nil {
		return false
	}
	major, minor := versionNumbers(t.Version)
	if t.Server == "valkey" {
		return major > 7 || (major == 7 && minor >= 2)
	}
	return major >= 7
}

// loadScript loads writeScript on every master.
func (ex *writeExecutor) loadScript() error {
	ex.load.Lock()
	defer ex.load.Unlock()
	if cc := ex.c.ClusterClient(); cc != nil {
		return cc.ForEachMaster(ex.ctx, func(ctx context.Context, m *redis.Client) error {
			if err := writeScript.Load(ctx, m).Err(); err != nil {
				return fmt.Errorf("loading the write script on %s: %w", m.Options().Addr, err)
			}
			return nil
		})
	}
	if err := writeScript.Load(ex.ctx, ex.rdb).Err(); err != nil {
		return fmt.Errorf("loading the write script on %s: %w", ex.nodeOf(""), err)
	}
	return nil
}

// nodeOf names the node that holds key, for error messages.
func (ex *writeExecutor) nodeOf(key string) string {
	if cc := ex.c.ClusterClient(); cc != nil {
		if m, err := cc.MasterForKey(context.WithoutCancel(ex.ctx), key); err == nil {
			return m.Options().Addr
		}
		return "cluster"
	}
	if t := ex.c.Topology(); t != nil && len(t.Masters) > 0 {
		return t.Masters[0].Addr
	}
	return "redis"
}

// nodeErrorPrefixes are Redis error replies that are about the node, not
// the key: the whole write fails (and can be retried) instead of counting
// every key as failed.
var nodeErrorPrefixes = []string{
	"MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "READONLY", "MASTERDOWN",
	"NOREPLICAS", "BUSY", "OOM", "MISCONF", "NOAUTH", "WRONGPASS", "EXECABORT",
	"ERR max number of clients",
}

// isKeyError reports whether err is a Redis error reply about this key
// (WRONGTYPE, an ACL refusal of the key, ...), as opposed to a node or
// connection problem.
func isKeyError(err error) bool {
	var re redis.Error
	if !errors.As(err, &re) {
		return false
	}
	msg := re.Error()
	for _, p := range nodeErrorPrefixes {
		if strings.HasPrefix(msg, p) {
			return false
		}
	}
	return true
}

func hasRedisPrefix(err error, prefix string) bool {
	var re redis.Error
	return errors.As(err, &re) && strings.HasPrefix(re.Error(), prefix)
}
