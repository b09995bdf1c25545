package redistest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// NumSlots is the number of Redis Cluster hash slots.
const NumSlots = 16384

// ClusterOptions configures StartCluster.
type ClusterOptions struct {
	Masters  int // default 3
	Replicas int // replicas per master, default 0
	// Persist, ClusterNodeTimeout and Extra are passed to every node.
	Persist            bool
	ClusterNodeTimeout int
	Extra              []string
	// Version and Modules choose every node's redis-server and modules
	// (see ServerOptions).
	Version string
	Modules []string
}

// Node is one cluster node.
type Node struct {
	*Server
	ID     string // cluster node id (stable across restarts: nodes.conf is kept)
	Master bool   // role when the cluster was created
}

// Cluster is a running Redis Cluster.
type Cluster struct {
	t     testing.TB
	opts  ClusterOptions
	nodes []*Node // masters first, then replicas

	mu     sync.Mutex
	client *redis.ClusterClient
}

// StartCluster starts a cluster (3 masters by default) and waits until every
// node reports cluster_state:ok and knows the full slot map.
func StartCluster(t testing.TB, opts ClusterOptions) *Cluster {
	t.Helper()
	if opts.Masters <= 0 {
		opts.Masters = 3
	}
	c := &Cluster{t: t, opts: opts}
	n := opts.Masters * (1 + opts.Replicas)
	servers := make([]*Server, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i], errs[i] = startServer(t, ServerOptions{Cluster: true, Persist: opts.Persist,
				ClusterNodeTimeout: opts.ClusterNodeTimeout, Extra: opts.Extra,
				Version: opts.Version, Modules: opts.Modules})
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.closeClient)
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if err := c.form(ctx, servers); err != nil {
		t.Fatalf("forming cluster: %v", err)
	}
	return c
}

func (c *Cluster) form(ctx context.Context, servers []*Server) error {
	m := c.opts.Masters
	for i, s := range servers {
		id, err := s.Client().Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			return fmt.Errorf("CLUSTER MYID on %s: %w", s.Addr(), err)
		}
		c.nodes = append(c.nodes, &Node{Server: s, ID: id, Master: i < m})
	}
	// Slots and distinct config epochs before meeting, so no epoch
	// collision has to be resolved by gossip.
	for i := range m {
		lo, hi := i*NumSlots/m, (i+1)*NumSlots/m-1
		cl := c.nodes[i].Client()
		if err := cl.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", lo, hi).Err(); err != nil {
			return fmt.Errorf("CLUSTER ADDSLOTSRANGE %d %d on %s: %w", lo, hi, c.nodes[i].Addr(), err)
		}
	}
	for i, nd := range c.nodes {
		if err := nd.Client().Do(ctx, "CLUSTER", "SET-CONFIG-EPOCH", i+1).Err(); err != nil {
			return fmt.Errorf("CLUSTER SET-CONFIG-EPOCH on %s: %w", nd.Addr(), err)
		}
	}
	first := c.nodes[0].Client()
	for _, nd := range c.nodes[1:] {
		if err := first.Do(ctx, "CLUSTER", "MEET", "127.0.0.1", nd.Port(), nd.BusPort()).Err(); err != nil {
			return fmt.Errorf("CLUSTER MEET %s: %w", nd.Addr(), err)
		}
	}
	if err := c.waitKnown(ctx); err != nil {
		return err
	}
	for i, nd := range c.nodes[m:] {
		master := c.nodes[i%m]
		if err := nd.Client().Do(ctx, "CLUSTER", "REPLICATE", master.ID).Err(); err != nil {
			return fmt.Errorf("CLUSTER REPLICATE on %s: %w", nd.Addr(), err)
		}
	}
	return c.WaitReady(ctx)
}

// waitKnown polls until every node knows every other node (handshakes done).
func (c *Cluster) waitKnown(ctx context.Context) error {
	return poll(ctx, func() error {
		for _, nd := range c.nodes {
			out, err := nd.Client().ClusterNodes(ctx).Result()
			if err != nil {
				return err
			}
			lines := strings.Split(strings.TrimSpace(out), "\n")
			if len(lines) != len(c.nodes) || strings.Contains(out, "handshake") || strings.Contains(out, "noaddr") {
				return fmt.Errorf("%s knows %d of %d nodes", nd.Addr(), len(lines), len(c.nodes))
			}
		}
		return nil
	})
}

// WaitReady polls until every running node reports cluster_state:ok, all
// slots assigned, every node's view of the masters and replicas agrees, and
// replicas have synced.
func (c *Cluster) WaitReady(ctx context.Context) error {
	return poll(ctx, func() error {
		var ref string
		for _, nd := range c.nodes {
			if !nd.Running() {
				continue
			}
			cl := nd.Client()
			info, err := cl.ClusterInfo(ctx).Result()
			if err != nil {
				return err
			}
			if InfoField(info, "cluster_state") != "ok" || InfoField(info, "cluster_slots_assigned") != "16384" {
				return fmt.Errorf("%s: cluster_state %s, %s slots assigned", nd.Addr(),
					InfoField(info, "cluster_state"), InfoField(info, "cluster_slots_assigned"))
			}
			view, err := slotView(ctx, cl)
			if err != nil {
				return err
			}
			if ref == "" {
				ref = view
			} else if view != ref {
				return fmt.Errorf("%s disagrees on the slot map", nd.Addr())
			}
			if !nd.Master {
				repl, err := cl.Info(ctx, "replication").Result()
				if err != nil {
					return err
				}
				if InfoField(repl, "master_link_status") != "up" {
					return fmt.Errorf("replica %s not synced", nd.Addr())
				}
			}
		}
		return nil
	})
}

// slotView renders the masters of CLUSTER SLOTS in a canonical form for
// comparison. Replicas are left out: other nodes learn of them by gossip,
// which can take seconds, and clients do not need them for writes.
func slotView(ctx context.Context, cl *redis.Client) (string, error) {
	slots, err := cl.ClusterSlots(ctx).Result()
	if err != nil {
		return "", err
	}
	var parts []string
	for _, s := range slots {
		parts = append(parts, fmt.Sprintf("%d-%d:%s", s.Start, s.End, s.Nodes[0].Addr))
	}
	slices.Sort(parts)
	return strings.Join(parts, ";"), nil
}

// poll calls fn until it returns nil or ctx ends; the last error is
// reported on timeout.
func poll(ctx context.Context, fn func() error) error {
	for {
		err := fn()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// URL is a redis:// URL of the first master.
func (c *Cluster) URL() string { return c.nodes[0].URL() }

// Nodes returns all nodes, masters (as created) first.
func (c *Cluster) Nodes() []*Node { return c.nodes }

// Masters returns the nodes created as masters.
func (c *Cluster) Masters() []*Node { return c.nodes[:c.opts.Masters] }

// Addrs returns the addresses of all nodes.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, nd := range c.nodes {
		a = append(a, nd.Addr())
	}
	return a
}

// Client returns a cluster client (created once, closed at cleanup).
func (c *Cluster) Client() *redis.ClusterClient {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client == nil {
		c.client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs(), Protocol: 2,
			DisableIdentity: true, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second})
	}
	return c.client
}

func (c *Cluster) closeClient() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
}

// SlotOwner returns the index of the master node that owns slot according to
// that node itself (CLUSTER NODES "myself" line), or -1.
func (c *Cluster) SlotOwner(ctx context.Context, slot int) (int, error) {
	for i, nd := range c.nodes {
		if !nd.Running() {
			continue
		}
		out, err := nd.Client().ClusterNodes(ctx).Result()
		if err != nil {
			return -1, err
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) < 8 || !strings.Contains(f[2], "myself") {
				continue
			}
			for _, r := range f[8:] {
				if strings.HasPrefix(r, "[") {
					continue
				}
				lo, hi, _ := strings.Cut(r, "-")
				a, _ := strconv.Atoi(lo)
				b := a
				if hi != "" {
					b, _ = strconv.Atoi(hi)
				}
				if slot >= a && slot <= b {
					return i, nil
				}
			}
		}
	}
	return -1, nil
}

// StopNode stops node i with SHUTDOWN SAVE (data kept for RestartNode).
func (c *Cluster) StopNode(i int) { c.t.Helper(); c.nodes[i].Stop() }

// KillNode kills node i (SIGKILL).
func (c *Cluster) KillNode(i int) { c.nodes[i].Kill() }

// RestartNode restarts node i on its port with its directory and waits until
// the cluster is ready again.
func (c *Cluster) RestartNode(i int) {
	c.t.Helper()
	c.nodes[i].Restart()
	ctx, cancel := context.WithTimeout(context.Background(), ReadyTimeout)
	defer cancel()
	if err := c.WaitReady(ctx); err != nil {
		c.t.Fatalf("cluster after restarting %s: %v", c.nodes[i].Addr(), err)
	}
}

// FlushAll flushes every running master.
func (c *Cluster) FlushAll() {
	c.t.Helper()
	for _, nd := range c.Masters() {
		if nd.Running() {
			nd.FlushAll()
		}
	}
}

// DBSize sums DBSIZE over the running masters.
func (c *Cluster) DBSize(ctx context.Context) (int64, error) {
	var n int64
	for _, nd := range c.Masters() {
		if !nd.Running() {
			continue
		}
		k, err := nd.Client().DBSize(ctx).Result()
		if err != nil {
			return 0, err
		}
		n += k
	}
	return n, nil
}
