package cluster

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"

	"github.com/redstage/redstage/shard"
)

// Requests and replies of the coordinator's micro service (JSON).

type submitRequest struct {
	Spec JobSpec `json:"spec"`
}

type submitReply struct {
	ID    string `json:"id"`
	Tasks int    `json:"tasks"`
}

type idRequest struct {
	ID string `json:"id"`
}

// cancelRequest cancels a job. Abandon says that the job's results will
// not be read (the client's output was closed): a scan that succeeded but
// whose results are unread is then cancelled too, so its frames are purged.
type cancelRequest struct {
	ID      string `json:"id"`
	Reason  string `json:"reason,omitempty"`
	Abandon bool   `json:"abandon,omitempty"`
}

type listRequest struct {
	Limit int `json:"limit,omitempty"`
}

// chunkRequest adds one uploaded load chunk as a task.
type chunkRequest struct {
	Job   string   `json:"job"`
	Index int      `json:"index"`
	Chunk chunkRef `json:"chunk"`
}

// inputRequest ends (or keeps alive, or aborts) a load job's input.
type inputRequest struct {
	Job       string `json:"job"`
	Keepalive bool   `json:"keepalive,omitempty"`
	Chunks    int    `json:"chunks"`
	Rows      int64  `json:"rows"`
	Bytes     int64  `json:"bytes"`
	Error     string `json:"error,omitempty"` // the client could not read its input: fail the job
}

type okReply struct {
	OK bool `json:"ok"`
}

// API endpoint names (subjects redstage.api.<name>).
const (
	opSubmit = "submit"
	opStatus = "status"
	opList   = "list"
	opCancel = "cancel"
	opChunk  = "chunk"
	opInput  = "input"
)

// Error codes in replies (micro's Nats-Service-Error-Code header).
const (
	codeInvalid     = "400"
	codeNotFound    = "404"
	codeFinished    = "409"
	codeUnreachable = "503"
	codeStoreFull   = "507"
	codeAuth        = "401" // shard.ErrAuth
	codePermission  = "403" // shard.ErrNoPermission
	codeBadDB       = "422" // shard.ErrBadDB
	codeInternal    = "500"
)

func errorCode(err error) string {
	switch {
	case errors.Is(err, ErrInvalidSpec):
		return codeInvalid
	case errors.Is(err, ErrJobNotFound):
		return codeNotFound
	case errors.Is(err, ErrJobFinished):
		return codeFinished
	case errors.Is(err, ErrRedisUnreachable):
		return codeUnreachable
	case isStoreFull(err):
		return codeStoreFull
	case errors.Is(err, shard.ErrAuth):
		return codeAuth
	case errors.Is(err, shard.ErrNoPermission):
		return codePermission
	case errors.Is(err, shard.ErrBadDB):
		return codeBadDB
	}
	return codeInternal
}

// respondErr answers a request with err as a micro service error.
func respondErr(req micro.Request, err error) {
	_ = req.Error(errorCode(err), err.Error(), nil)
}

func respondJSON(req micro.Request, v any) {
	if err := req.RespondJSON(v); err != nil {
		respondErr(req, fmt.Errorf("encoding reply: %w", err))
	}
}

// decodeReply turns a service reply into v or a sentinel-wrapping error.
// The description already names the sentinel's text; wrapping keeps errors.Is.
func decodeReply(msg *nats.Msg, v any) error {
	if desc := msg.Header.Get(micro.ErrorHeader); desc != "" {
		var base error
		switch msg.Header.Get(micro.ErrorCodeHeader) {
		case codeInvalid:
			base = ErrInvalidSpec
		case codeNotFound:
			base = ErrJobNotFound
		case codeFinished:
			base = ErrJobFinished
		case codeUnreachable:
			base = ErrRedisUnreachable
		case codeStoreFull:
			base = ErrStoreFull
		case codeAuth:
			base = shard.ErrAuth
		case codePermission:
			base = shard.ErrNoPermission
		case codeBadDB:
			base = shard.ErrBadDB
		default:
			return errors.New(desc)
		}
		return &remoteError{desc: desc, base: base}
	}
	if v == nil {
		return nil
	}
	if err := json.Unmarshal(msg.Data, v); err != nil {
		return fmt.Errorf("decoding coordinator reply: %w", err)
	}
	return nil
}

// remoteError carries a coordinator's error text and the matching sentinel.
type remoteError struct {
	desc string
	base error
}

func (e *remoteError) Error() string { return e.desc }
func (e *remoteError) Unwrap() error { return e.base }
