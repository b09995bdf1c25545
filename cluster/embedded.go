package cluster

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// NATSConfig configures an in-process NATS server with JetStream.
type NATSConfig struct {
	Host         string // listen host (default 127.0.0.1)
	Port         int    // listen port; -1 = random free port (default)
	NoListen     bool   // in-process connections only (URL returns "")
	StoreDir     string // JetStream store; "" = a temp dir removed at Shutdown
	MaxPayload   int32  // 0 = server default (1 MiB)
	Logger       hclog.Logger
	StartTimeout time.Duration // default 10s
}

// DefaultNATSConfig returns the defaults.
func DefaultNATSConfig() NATSConfig {
	return NATSConfig{Host: "127.0.0.1", Port: -1, Logger: hclog.NewNullLogger(), StartTimeout: 10 * time.Second}
}

// NATSServer is a running in-process NATS server.
type NATSServer struct {
	ns *server.Server
}

// StartNATS starts an in-process NATS server with JetStream.
func StartNATS(cfg NATSConfig) (*NATSServer, error) { return nil, ErrNotImplemented }

// Server returns the nats-server instance.
func (s *NATSServer) Server() *server.Server { return s.ns }

// URL returns the client URL ("" when NoListen).
func (s *NATSServer) URL() string { return "" }

// Connect returns a new in-process connection to the server.
func (s *NATSServer) Connect(name string) (*nats.Conn, error) { return nil, ErrNotImplemented }

// Shutdown stops the server and removes a temporary store. Idempotent.
func (s *NATSServer) Shutdown() error { return nil }

// EmbeddedConfig configures StartEmbedded.
type EmbeddedConfig struct {
	NATS        NATSConfig
	Coordinator CoordinatorConfig
	Worker      WorkerConfig // config of each in-process worker
	Workers     int          // in-process workers (0 = one per CPU)
	Client      ClientConfig
	Logger      hclog.Logger
}

// DefaultEmbeddedConfig returns the defaults.
func DefaultEmbeddedConfig() EmbeddedConfig {
	return EmbeddedConfig{
		NATS:        DefaultNATSConfig(),
		Coordinator: DefaultCoordinatorConfig(),
		Worker:      DefaultWorkerConfig(),
		Client:      DefaultClientConfig(),
		Logger:      hclog.NewNullLogger(),
	}
}

// Validate checks the configuration.
func (c EmbeddedConfig) Validate() error {
	if c.Workers < 0 {
		return fmt.Errorf("embedded config: Workers %d: want 0 (one per CPU) or more", c.Workers)
	}
	if err := c.Coordinator.Validate(); err != nil {
		return err
	}
	if err := c.Worker.Validate(); err != nil {
		return err
	}
	return c.Client.Validate()
}

// Embedded is an in-process redstage cluster: NATS server, coordinator and
// workers, all speaking the same protocol as separate processes.
type Embedded struct {
	nats *NATSServer
}

// StartEmbedded starts the NATS server, the coordinator and the workers and
// returns once they are ready. Cancelling ctx does not stop them; Close does.
func StartEmbedded(ctx context.Context, cfg EmbeddedConfig) (*Embedded, error) {
	return nil, ErrNotImplemented
}

// Conn returns a connection to the embedded server (owned by Embedded).
func (e *Embedded) Conn() *nats.Conn { return nil }

// URL returns the client URL of the embedded server ("" when NoListen).
func (e *Embedded) URL() string { return e.nats.URL() }

// Client returns a Client on Conn.
func (e *Embedded) Client() *Client { return nil }

// Close stops, in order: workers (drained), coordinator, client connection,
// NATS server; then removes a temporary store. Idempotent.
func (e *Embedded) Close() error { return nil }
