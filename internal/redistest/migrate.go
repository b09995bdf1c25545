package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// Migration moves one slot from one master to another in steps, the way
// redis-cli --cluster reshard does: SETSLOT IMPORTING on the target,
// SETSLOT MIGRATING on the source, MIGRATE keys in batches, then SETSLOT NODE
// on every master. Its methods return errors so they can run in a goroutine
// next to a test.
type Migration struct {
	c        *Cluster
	slot     int
	src, dst *Node
	Moved    int // keys moved so far
}

// BeginMigration marks slot as importing on master `to` and migrating on
// master `from` (indexes into Masters()).
func (c *Cluster) BeginMigration(ctx context.Context, slot, from, to int) (*Migration, error) {
	m := &Migration{c: c, slot: slot, src: c.nodes[from], dst: c.nodes[to]}
	if err := m.dst.Client().Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", m.src.ID).Err(); err != nil {
		return nil, fmt.Errorf("SETSLOT %d IMPORTING on %s: %w", slot, m.dst.Addr(), err)
	}
	if err := m.src.Client().Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", m.dst.ID).Err(); err != nil {
		return nil, fmt.Errorf("SETSLOT %d MIGRATING on %s: %w", slot, m.src.Addr(), err)
	}
	return m, nil
}

// Step moves up to batch keys of the slot with one MIGRATE ... KEYS call and
// reports how many it moved (0 when the slot is empty on the source).
func (m *Migration) Step(ctx context.Context, batch int) (int, error) {
	src := m.src.Client()
	keys, err := src.ClusterGetKeysInSlot(ctx, m.slot, batch).Result()
	if err != nil {
		return 0, fmt.Errorf("GETKEYSINSLOT %d on %s: %w", m.slot, m.src.Addr(), err)
	}
	if len(keys) == 0 {
		return 0, nil
	}
	args := []any{"MIGRATE", "127.0.0.1", m.dst.Port(), "", 0, 10000, "KEYS"}
	for _, k := range keys {
		args = append(args, k)
	}
	if err := src.Do(ctx, args...).Err(); err != nil {
		return 0, fmt.Errorf("MIGRATE %d keys of slot %d to %s: %w", len(keys), m.slot, m.dst.Addr(), err)
	}
	m.Moved += len(keys)
	return len(keys), nil
}

// Finish moves the remaining keys and assigns the slot to the target on
// every master (target first, then source, then the others).
func (m *Migration) Finish(ctx context.Context) error {
	for {
		n, err := m.Step(ctx, 1000)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	order := []*Node{m.dst, m.src}
	for _, nd := range m.c.Masters() {
		if nd != m.dst && nd != m.src {
			order = append(order, nd)
		}
	}
	for _, nd := range order {
		if !nd.Running() {
			continue
		}
		if err := nd.Client().Do(ctx, "CLUSTER", "SETSLOT", m.slot, "NODE", m.dst.ID).Err(); err != nil {
			return fmt.Errorf("SETSLOT %d NODE on %s: %w", m.slot, nd.Addr(), err)
		}
	}
	return nil
}

// MigrateSlot moves slot from master index from to master index to in one
// go and fails the test on error.
func (c *Cluster) MigrateSlot(slot, from, to int) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := c.BeginMigration(ctx, slot, from, to)
	if err == nil {
		err = m.Finish(ctx)
	}
	if err != nil {
		c.t.Fatalf("migrating slot %d: %v", slot, err)
	}
}

// Reshard moves slots slots from master index from to master index to with
// `redis-cli --cluster reshard` (the redis-cli of the cluster's version), as
// an operator would: slot by slot, SETSLOT IMPORTING/MIGRATING, MIGRATE in
// pipelines of `pipeline` keys, SETSLOT NODE. It returns when redis-cli
// exits (or ctx ends, which kills it); the error holds its output's tail.
// Safe to call from a goroutine.
func (c *Cluster) Reshard(ctx context.Context, from, to, slots, pipeline int) error {
	cli, err := cliBinary(c.opts.Version)
	if err != nil {
		return err
	}
	src, dst := c.nodes[from], c.nodes[to]
	cmd := exec.CommandContext(ctx, cli, "--cluster", "reshard", src.Addr(),
		"--cluster-from", src.ID, "--cluster-to", dst.ID, "--cluster-slots", strconv.Itoa(slots),
		"--cluster-pipeline", strconv.Itoa(max(pipeline, 1)), "--cluster-yes")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.CombinedOutput()
	if err != nil {
		if i := len(out) - 2000; i > 0 {
			out = out[i:]
		}
		return fmt.Errorf("redis-cli --cluster reshard %d slots %s -> %s: %w: %s", slots, src.Addr(), dst.Addr(), err, out)
	}
	return nil
}
