package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// infra holds handles on redstage's JetStream objects.
type infra struct {
	js      jetstream.JetStream
	tasks   jetstream.Stream
	events  jetstream.Stream
	results jetstream.Stream
	jobs    jetstream.KeyValue
	taskKV  jetstream.KeyValue
	workers jetstream.KeyValue
	chunks  jetstream.Stream
}

// workerTTL is how long a worker heartbeat stays visible.
const workerTTL = 30 * time.Second

// ensureInfra creates or updates the streams, consumers and buckets.
func ensureInfra(ctx context.Context, js jetstream.JetStream, cfg CoordinatorConfig) (*infra, error) {
	in := &infra{js: js}
	var err error
	storage := jetstream.FileStorage
	if in.tasks, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamTasks,
		Description: "redstage task queue",
		Subjects:    []string{subjTaskPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		Duplicates:  2 * time.Minute,
	}); err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", streamTasks, err)
	}
	if in.events, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamEvents,
		Description: "redstage task events (workers → coordinator)",
		Subjects:    []string{subjEventPrefix + ">"},
		Retention:   jetstream.WorkQueuePolicy,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		Duplicates:  2 * time.Minute,
	}); err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", streamEvents, err)
	}
	if in.results, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamResults,
		Description: "redstage result frames (Arrow IPC)",
		Subjects:    []string{subjResultPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.ResultRetention,
		Duplicates:  time.Minute,
		AllowDirect: true, // clients read frames by direct get, one at a time
	}); err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", streamResults, err)
	}
	if _, err = js.CreateOrUpdateConsumer(ctx, streamTasks, jetstream.ConsumerConfig{
		Durable:       consumerWorkers,
		Description:   "redstage workers",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxDeliver:    -1, // the attempt limit is applied by workers (see package doc)
		MaxAckPending: cfg.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}); err != nil {
		return nil, fmt.Errorf("creating consumer %s: %w", consumerWorkers, err)
	}
	if _, err = js.CreateOrUpdateConsumer(ctx, streamEvents, jetstream.ConsumerConfig{
		Durable:       consumerCoordinator,
		Description:   "redstage coordinator",
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       30 * time.Second,
		MaxDeliver:    -1,
		MaxAckPending: 256,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	}); err != nil {
		return nil, fmt.Errorf("creating consumer %s: %w", consumerCoordinator, err)
	}
	kvs := []struct {
		dst *jetstream.KeyValue
		cfg jetstream.KeyValueConfig
	}{
		{&in.jobs, jetstream.KeyValueConfig{Bucket: bucketJobs, Description: "redstage jobs", TTL: cfg.JobRetention}},
		{&in.taskKV, jetstream.KeyValueConfig{Bucket: bucketTasks, Description: "redstage tasks", TTL: cfg.JobRetention}},
		{&in.workers, jetstream.KeyValueConfig{Bucket: bucketWorkers, Description: "redstage worker heartbeats", TTL: workerTTL, Storage: jetstream.MemoryStorage}},
	}
	for _, k := range kvs {
		k.cfg.Replicas = cfg.Replicas
		if k.cfg.Storage == 0 {
			k.cfg.Storage = storage
		}
		if *k.dst, err = js.CreateOrUpdateKeyValue(ctx, k.cfg); err != nil {
			return nil, fmt.Errorf("creating bucket %s: %w", k.cfg.Bucket, err)
		}
	}
	if in.chunks, err = js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        streamChunks,
		Description: "redstage load input chunks (Arrow IPC frames)",
		Subjects:    []string{subjChunkPrefix + ">"},
		Retention:   jetstream.LimitsPolicy,
		Storage:     storage,
		Replicas:    cfg.Replicas,
		MaxAge:      cfg.JobRetention,
		Duplicates:  time.Minute,
		AllowDirect: true, // workers read frames by direct get, one at a time
	}); err != nil {
		return nil, fmt.Errorf("creating stream %s: %w", streamChunks, err)
	}
	return in, nil
}

// lookupInfra binds to existing objects (created by a coordinator).
func lookupInfra(ctx context.Context, js jetstream.JetStream) (*infra, error) {
	in := &infra{js: js}
	var err error
	if in.tasks, err = js.Stream(ctx, streamTasks); err != nil {
		return nil, fmt.Errorf("stream %s: %w", streamTasks, err)
	}
	if in.events, err = js.Stream(ctx, streamEvents); err != nil {
		return nil, fmt.Errorf("stream %s: %w", streamEvents, err)
	}
	if in.results, err = js.Stream(ctx, streamResults); err != nil {
		return nil, fmt.Errorf("stream %s: %w", streamResults, err)
	}
	if in.jobs, err = js.KeyValue(ctx, bucketJobs); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bucketJobs, err)
	}
	if in.taskKV, err = js.KeyValue(ctx, bucketTasks); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bucketTasks, err)
	}
	if in.workers, err = js.KeyValue(ctx, bucketWorkers); err != nil {
		return nil, fmt.Errorf("bucket %s: %w", bucketWorkers, err)
	}
	if in.chunks, err = js.Stream(ctx, streamChunks); err != nil {
		return nil, fmt.Errorf("stream %s: %w", streamChunks, err)
	}
	return in, nil
}

// waitInfra retries lookupInfra until it succeeds or ctx ends.
func waitInfra(ctx context.Context, js jetstream.JetStream, every time.Duration, onWait func(error)) (*infra, error) {
	for {
		in, err := lookupInfra(ctx, js)
		if err == nil {
			return in, nil
		}
		if !isNotFound(err) {
			return nil, err
		}
		if onWait != nil {
			onWait(err)
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("waiting for a coordinator to create redstage's streams: %w", err)
		case <-t.C:
		}
	}
}

func isNotFound(err error) bool {
	return errors.Is(err, jetstream.ErrStreamNotFound) || errors.Is(err, jetstream.ErrBucketNotFound) ||
		errors.Is(err, jetstream.ErrConsumerNotFound) || errors.Is(err, jetstream.ErrStreamNameRequired) ||
		errors.Is(err, jetstream.ErrJetStreamNotEnabled)
}
