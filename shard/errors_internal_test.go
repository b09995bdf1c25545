package shard

import (
	"errors"
	"fmt"
	"testing"
)

// TestAccessError: the replies of Redis 7.0 to 7.4 (and Valkey) that mean
// "retrying cannot help" are typed, naming the refused command; other
// replies and key refusals are left alone.
func TestAccessError(t *testing.T) {
	tests := []struct {
		reply string
		kind  error
		cmd   string
	}{
		{"NOAUTH Authentication required.", ErrAuth, ""},
		{"WRONGPASS invalid username-password pair or user is disabled.", ErrAuth, ""},
		{"ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?", ErrAuth, ""},
		{"ERR invalid password", ErrAuth, ""},
		{"NOPERM this user has no permissions to run the 'info' command", ErrNoPermission, "info"},
		{"NOPERM User reader has no permissions to run the 'config|get' command", ErrNoPermission, "config|get"},
		{"NOPERM User u has no permissions to run the 'SCAN' command", ErrNoPermission, "scan"},
		{"ERR DB index is out of range", ErrBadDB, ""},
		{"NOPERM No permissions to access a key", nil, ""},
		{"NOPERM this user has no permissions to access one of the keys used as arguments", nil, ""},
		{"WRONGTYPE Operation against a key holding the wrong kind of value", nil, ""},
		{"LOADING Redis is loading the dataset in memory", nil, ""},
	}
	for _, tt := range tests {
		base := fmt.Errorf("context: %w", replyErr(tt.reply))
		err := accessError(base, "127.0.0.1:6379")
		var ae *AccessError
		isAE := errors.As(err, &ae)
		switch {
		case tt.kind == nil && isAE:
			t.Errorf("%q: typed as %v", tt.reply, ae.Kind)
		case tt.kind == nil:
			if err != base {
				t.Errorf("%q: changed to %v", tt.reply, err)
			}
		case !isAE || !errors.Is(err, tt.kind) || ae.Command != tt.cmd:
			t.Errorf("%q: %v (command %q); want %v naming %q", tt.reply, err, commandOf(ae), tt.kind, tt.cmd)
		case !errors.Is(err, base) || errors.Unwrap(errors.Unwrap(base)) != nil && !errors.Is(err, errors.Unwrap(base)):
			t.Errorf("%q: the original error is not wrapped", tt.reply)
		}
	}
	if accessError(nil, "x") != nil {
		t.Error("accessError(nil) != nil")
	}
}

func commandOf(ae *AccessError) string {
	if ae == nil {
		return ""
	}
	return ae.Command
}

// replyErr is a Redis error reply, as go-redis returns them.
type replyErr string

func (e replyErr) Error() string { return string(e) }
func (replyErr) RedisError()     {}
