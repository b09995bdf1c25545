package cluster

import (
	"net/url"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/redstage/redstage/internal/natsproxy"
	"github.com/redstage/redstage/internal/redistest"
)

// proxied starts a proxy in front of the test cluster's NATS server and
// returns it with a connection through it.
func proxied(t *testing.T, tc *testCluster) (*natsproxy.Proxy, *nats.Conn) {
	t.Helper()
	u, err := url.Parse(tc.nats.URL())
	if err != nil {
		t.Fatal(err)
	}
	p, err := natsproxy.Start(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	nc, err := nats.Connect(p.URL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return p, nc
}

// TestLostChunkReplyIsRetried: a worker whose reply to a chunk frame get
// is lost (swallowed by a proxy) does not wait for it until the task
// times out: the get is bounded and retried, and the load ends exact.
func TestLostChunkReplyIsRetried(t *testing.T) {
	rs := redistest.StartServer(t)
	tc := newTestCluster(t, 0)
	tc.wcfg.RequestTimeout = time.Second
	p, nc := proxied(t, tc)
	tc.addWorkerConn(nc, nil)
	p.DropNext(1, "Nats-Stream: "+streamChunks)

	ctx := testCtx(t, 30*time.Second)
	job, err := tc.client.Load(ctx, loadSpec(rs.URL()), loadInputs(5000))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	res, err := job.Wait(ctx)
	if err != nil {
		t.Fatalf("load with a lost chunk reply: %v", err)
	}
	n, err := rs.Client().DBSize(ctx).Result()
	if err != nil || res.Written != 5000 || n != 5000 {
		t.Fatalf("load with a lost chunk reply: %d written, %d keys (%v), want 5000", res.Written, n, err)
	}
	if p.Dropped() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1: the test did not test anything", p.Dropped())
	}
}

// TestLostResultReplyIsRetried: the same for the client's result reader.
func TestLostResultReplyIsRetried(t *testing.T) {
	rs := redistest.StartServer(t)
	loadUsers(rs, 5000)
	tc := newTestCluster(t, 2)
	p, nc := proxied(t, tc)
	ccfg := DefaultClientConfig()
	ccfg.Logger = tc.log
	ccfg.FrameTimeout = time.Second
	cl, err := NewClient(nc, ccfg)
	if err != nil {
		t.Fatal(err)
	}
	p.DropNext(1, "Nats-Stream: "+streamResults)
	done := make(chan struct{})
	var keys []string
	go func() {
		defer close(done)
		keys, _ = scanAll(t, cl, usersScan(rs.URL(), 4), ResultOptions{})
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("scan results with a lost reply: not read within 30s")
	}
	checkExactlyOnce(t, keys, 5000)
	if p.Dropped() != 1 {
		t.Fatalf("the proxy dropped %d replies, want 1", p.Dropped())
	}
}
