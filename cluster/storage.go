package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream error codes that mean "no room to store this" (nats-server's
// errors.json): the server's store limit (max_file_store, or the disk it
// sized itself from), an account limit, a stream's own limits, and
// JetStream switched off by the server after a disk write failed (ENOSPC).
const (
	jsAccountResourcesExceeded = 10002 // resource limits exceeded for account
	jsInsufficientResources    = 10023 // insufficient resources (server store limit)
	jsStorageResourcesExceeded = 10047 // insufficient storage resources available
	jsMemoryResourcesExceeded  = 10028
	jsStreamStoreFailed        = 10077 // "{err}": maximum bytes exceeded, no space left on device, ...
	jsNotEnabledForAccount     = 10039
	jsNotEnabled               = 10076
)

// isStoreFull reports whether err is JetStream refusing a write for lack
// of space (or JetStream disabled by the server after running out of disk).
func isStoreFull(err error) bool {
	if err == nil {
		return false
	}
	var sf *StoreFullError
	if errors.As(err, &sf) {
		return true
	}
	var ae *jetstream.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode {
		case jsAccountResourcesExceeded, jsInsufficientResources, jsStorageResourcesExceeded,
			jsMemoryResourcesExceeded, jsNotEnabledForAccount, jsNotEnabled:
			return true
		case jsStreamStoreFailed:
			return storageText(ae.Description)
		}
	}
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) ||
		errors.Is(err, nats.ErrJetStreamNotEnabled) {
		return true
	}
	return storageText(err.Error())
}

func storageText(s string) bool {
	s = strings.ToLower(s)
	for _, t := range []string{"insufficient resources", "resource limits exceeded", "maximum bytes exceeded",
		"no space left on device", "insufficient storage"} {
		if strings.Contains(s, t) {
			return true
		}
	}
	return false
}

// streamOfSubject names the redstage stream a subject belongs to.
func streamOfSubject(subject string) string {
	for _, p := range []struct{ prefix, stream string }{
		{subjResultPrefix, streamResults}, {subjChunkPrefix, streamChunks},
		{subjEventPrefix, streamEvents}, {subjTaskPrefix, streamTasks},
	} {
		if strings.HasPrefix(subject, p.prefix) {
			return p.stream
		}
	}
	return ""
}

// storeFull builds a *StoreFullError for err (which isStoreFull), naming
// the NATS server, the stream and the store's use and limit as far as
// the account info tells them (bounded by a short timeout).
func storeFull(ctx context.Context, nc *nats.Conn, js jetstream.JetStream, stream string, err error) error {
	var sf *StoreFullError
	if errors.As(err, &sf) {
		if sf.Server != "" || sf.Used > 0 {
			return err
		}
		if sf.Stream != "" {
			stream = sf.Stream
		}
		err = sf.Err
	}
	sf = &StoreFullError{Stream: stream, Limit: -1, Err: err}
	if nc != nil {
		sf.Server = nc.ConnectedUrlRedacted()
	}
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if info, ierr := js.AccountInfo(ictx); ierr == nil {
		sf.Used = int64(info.Store)
		if info.Limits.MaxStore > 0 {
			sf.Limit = info.Limits.MaxStore
		}
	}
	return sf
}

// mib formats a byte count.
func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// purgeJobData removes a job's result frames and load chunks: what a job
// that fails for lack of space leaves in the store. It is what makes room
// for the records that end the job.
func purgeJobData(ctx context.Context, in *infra, job string) error {
	pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	var errs []error
	if err := in.results.Purge(pctx, jetstream.WithPurgeSubject(jobResultsFilter(job))); err != nil {
		errs = append(errs, fmt.Errorf("purging results of %s: %w", job, err))
	}
	if err := in.chunks.Purge(pctx, jetstream.WithPurgeSubject(jobChunksFilter(job))); err != nil {
		errs = append(errs, fmt.Errorf("purging load chunks of %s: %w", job, err))
	}
	return errors.Join(errs...)
}
