package shard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Config configures a Client.
type Config struct {
	URL          string        // redis:// or rediss://, [user:password@]host:port[/db]
	Logger       hclog.Logger  // nil = hclog.NewNullLogger()
	PoolSize     int           // connections per node; 0 = go-redis default
	DialTimeout  time.Duration // per connection attempt
	ReadTimeout  time.Duration // per command / pipeline read; GETKEYSINSLOT of a big slot may need more
	WriteTimeout time.Duration
}

// DefaultConfig returns the configuration Dial uses for url.
func DefaultConfig(rawURL string) Config {
	return Config{
		URL:          rawURL,
		DialTimeout:  5 * time.Second,
		ReadTimeout:  30 * time.Second,
		WriteTimeout: 30 * time.Second,
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	if c.URL == "" {
		return fmt.Errorf("%w: empty URL", ErrInvalidURL)
	}
	if c.PoolSize < 0 || c.DialTimeout < 0 || c.ReadTimeout < 0 || c.WriteTimeout < 0 {
		return fmt.Errorf("%w: negative pool size or timeout", ErrInvalidOptions)
	}
	_, err := parseURL(c.URL)
	return err
}

// Client talks to one Redis deployment: a standalone server or a cluster.
// For a cluster it holds a go-redis ClusterClient (which follows MOVED and
// ASK) and one plain client per master for node-local commands such as SCAN
// and CLUSTER GETKEYSINSLOT. It is safe for concurrent use.
type Client struct {
	cfg  Config
	log  hclog.Logger
	base *redis.Options // parsed URL with timeouts applied

	std     *redis.Client        // standalone (nil for a cluster)
	cluster *redis.ClusterClient // cluster (nil for standalone)

	mu     sync.Mutex
	nodes  map[string]*redis.Client // per-node clients of a cluster
	topo   *Topology
	limits *listpackLimits // read once by writes (write_limits.go)
}

// Dial connects to the deployment behind rawURL, detects whether it is a
// cluster and reads its topology.
func Dial(ctx context.Context, rawURL string) (*Client, error) {
	return DialConfig(ctx, DefaultConfig(rawURL))
}

// DialConfig is Dial with a full configuration.
func DialConfig(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	base, _ := parseURL(cfg.URL)
	if cfg.DialTimeout > 0 {
		base.DialTimeout = cfg.DialTimeout
	}
	if cfg.ReadTimeout > 0 {
		base.ReadTimeout = cfg.ReadTimeout
	}
	if cfg.WriteTimeout > 0 {
		base.WriteTimeout = cfg.WriteTimeout
	}
	if cfg.PoolSize > 0 {
		base.PoolSize = cfg.PoolSize
	}
	log := cfg.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	c := &Client{cfg: cfg, log: log, base: base, nodes: map[string]*redis.Client{}}

	// Probe on db 0: SELECT fails in cluster mode.
	popts := c.nodeOptions(base.Addr)
	popts.DB = 0
	probe := redis.NewClient(popts)
	info, err := probe.Info(ctx, "server", "cluster").Result()
	if err != nil {
		probe.Close()
		return nil, fmt.Errorf("connecting to %s: %w", RedactURL(cfg.URL), accessError(err, base.Addr))
	}
	if infoField(info, "cluster_enabled") == "1" {
		if base.DB != 0 {
			probe.Close()
			return nil, fmt.Errorf("connecting to %s: %w (URL asks for db %d)", RedactURL(cfg.URL), ErrClusterDB, base.DB)
		}
		c.nodes[base.Addr] = probe
		c.cluster = redis.NewClusterClient(c.clusterOptions())
	} else {
		probe.Close()
		c.std = redis.NewClient(c.nodeOptions(base.Addr))
	}
	if _, err := c.Refresh(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("connecting to %s: %w", RedactURL(cfg.URL), err)
	}
	c.log.Debug("connected", "url", RedactURL(cfg.URL), "topology", c.topo.String())
	return c, nil
}

// parseURL parses a redis:// or rediss:// URL into go-redis options.
func parseURL(rawURL string) (*redis.Options, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrInvalidURL, RedactURL(rawURL), err)
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, fmt.Errorf("%w %s: scheme must be redis:// or rediss://", ErrInvalidURL, RedactURL(rawURL))
	}
	o, err := redis.ParseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrInvalidURL, RedactURL(rawURL), err)
	}
	if o.DB < 0 {
		return nil, fmt.Errorf("%w %s: negative database number", ErrInvalidURL, RedactURL(rawURL))
	}
	return o, nil
}

// nodeOptions are the options of a plain client for addr: the URL's
// credentials, TLS and timeouts.
func (c *Client) nodeOptions(addr string) *redis.Options {
	o := *c.base
	o.Addr = addr
	o.Protocol = 2
	o.DisableIdentity = true
	o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if o.TLSConfig != nil {
		t := o.TLSConfig.Clone()
		seedHost, _, _ := net.SplitHostPort(c.base.Addr)
		if host, _, err := net.SplitHostPort(addr); err == nil && t.ServerName == seedHost {
			t.ServerName = host
		}
		o.TLSConfig = t
	}
	return &o
}

func (c *Client) clusterOptions() *redis.ClusterOptions {
	b := c.base
	return &redis.ClusterOptions{
		Addrs:           []string{b.Addr},
		Username:        b.Username,
		Password:        b.Password,
		TLSConfig:       b.TLSConfig,
		DialTimeout:     b.DialTimeout,
		ReadTimeout:     b.ReadTimeout,
		WriteTimeout:    b.WriteTimeout,
		PoolSize:        b.PoolSize,
		Protocol:        2,
		DisableIdentity: true,
		MaxRedirects:    8,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	}
}

// Topology returns the topology read by Dial or the last Refresh.
func (c *Client) Topology() *Topology {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.topo
}

// IsCluster reports whether the deployment is a Redis Cluster.
func (c *Client) IsCluster() bool { return c.cluster != nil }

// Redis returns the go-redis client for key-routed commands: the standalone
// client, or the cluster client (which follows MOVED and ASK).
func (c *Client) Redis() redis.UniversalClient {
	if c.cluster != nil {
		return c.cluster
	}
	return c.std
}

// ClusterClient returns the cluster client, or nil for a standalone server.
func (c *Client) ClusterClient() *redis.ClusterClient { return c.cluster }

// Node returns a plain client for the node at addr (for node-local commands
// such as SCAN). For a standalone server any address gives its one client.
func (c *Client) Node(addr string) *redis.Client {
	if c.std != nil {
		return c.std
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl := c.nodes[addr]; cl != nil {
		return cl
	}
	cl := redis.NewClient(c.nodeOptions(addr))
	c.nodes[addr] = cl
	return cl
}

// Logger returns the client's logger.
func (c *Client) Logger() hclog.Logger { return c.log }

// Refresh reads the topology again (masters, slots, run_ids, version).
func (c *Client) Refresh(ctx context.Context) (*Topology, error) {
	var t *Topology
	var err error
	if c.cluster != nil {
		t, err = c.clusterTopology(ctx)
	} else {
		t, err = c.standaloneTopology(ctx)
	}
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.topo = t
	c.mu.Unlock()
	return t, nil
}

func (c *Client) standaloneTopology(ctx context.Context) (*Topology, error) {
	info, err := c.std.Info(ctx, "server").Result()
	if err != nil {
		return nil, fmt.Errorf("INFO server on %s: %w", c.base.Addr, accessError(err, c.base.Addr))
	}
	t := &Topology{DB: c.base.DB}
	t.Server, t.Version = serverVersion(info)
	t.Masters = []Node{{Addr: c.base.Addr, RunID: infoField(info, "run_id")}}
	return t, nil
}

func (c *Client) clusterTopology(ctx context.Context) (*Topology, error) {
	slots, err := c.clusterSlots(ctx)
	if err != nil {
		return nil, err
	}
	byID := map[string]*Node{}
	for _, s := range slots {
		if len(s.Nodes) == 0 {
			continue
		}
		m := s.Nodes[0]
		n := byID[m.ID]
		if n == nil {
			n = &Node{ID: m.ID, Addr: m.Addr}
			byID[m.ID] = n
		}
		n.Slots = append(n.Slots, SlotRange{Start: s.Start, End: s.End})
	}
	t := &Topology{Cluster: true}
	for _, n := range byID {
		slices.SortFunc(n.Slots, func(a, b SlotRange) int { return a.Start - b.Start })
		n.Slots = mergeRanges(n.Slots)
		info, err := c.Node(n.Addr).Info(ctx, "server").Result()
		if err != nil {
			return nil, fmt.Errorf("INFO server on %s: %w", n.Addr, accessError(err, n.Addr))
		}
		n.RunID = infoField(info, "run_id")
		if t.Version == "" {
			t.Server, t.Version = serverVersion(info)
		}
		t.Masters = append(t.Masters, *n)
	}
	slices.SortFunc(t.Masters, func(a, b Node) int { return strings.Compare(a.Addr, b.Addr) })
	return t, nil
}

// clusterSlots asks the seed node and then the known masters for CLUSTER
// SLOTS until one answers.
func (c *Client) clusterSlots(ctx context.Context) ([]redis.ClusterSlot, error) {
	addrs := []string{c.base.Addr}
	if t := c.Topology(); t != nil {
		for _, m := range t.Masters {
			addrs = append(addrs, m.Addr)
		}
	}
	var errs []error
	for _, a := range addrs {
		slots, err := c.Node(a).ClusterSlots(ctx).Result()
		if err == nil {
			return slots, nil
		}
		errs = append(errs, fmt.Errorf("CLUSTER SLOTS on %s: %w", a, accessError(err, a)))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func mergeRanges(rs []SlotRange) []SlotRange {
	var out []SlotRange
	for _, r := range rs {
		if n := len(out); n > 0 && out[n-1].End+1 >= r.Start {
			out[n-1].End = max(out[n-1].End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// serverVersion returns ("valkey", valkey_version) or ("redis", redis_version).
func serverVersion(info string) (server, version string) {
	if v := infoField(info, "valkey_version"); v != "" {
		return "valkey", v
	}
	return "redis", infoField(info, "redis_version")
}

// runID reads the run_id of the node at addr.
func (c *Client) runID(ctx context.Context, addr string) (string, error) {
	info, err := c.Node(addr).Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("INFO server on %s: %w", addr, accessError(err, addr))
	}
	return infoField(info, "run_id"), nil
}

// Close closes every connection. Safe to call more than once.
func (c *Client) Close() error {
	var errs []error
	c.mu.Lock()
	nodes := c.nodes
	c.nodes = map[string]*redis.Client{}
	c.mu.Unlock()
	for _, n := range nodes {
		if err := n.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if c.cluster != nil {
		if err := c.cluster.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if c.std != nil {
		if err := c.std.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// RedactURL returns rawURL with its password replaced, for logs and errors.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		return u.String()
	}
	// Unparsable: blank out everything between the scheme and the last '@'.
	if i := strings.Index(rawURL, "://"); i >= 0 {
		if j := strings.LastIndex(rawURL, "@"); j > i {
			return rawURL[:i+3] + "xxxxx" + rawURL[j:]
		}
	}
	return rawURL
}

// infoField extracts "name:value" from an INFO reply.
func infoField(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), name+":"); ok {
			return v
		}
	}
	return ""
}
