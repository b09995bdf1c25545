package redistest

import (
	"context"
	"testing"
)

// ACLUser creates (or resets) the ACL user name on s with password "pw",
// access to every key and channel, and the given rules (for example
// "+@read", "-evalsha"), and returns a redis:// URL that logs in as it.
func (s *Server) ACLUser(t testing.TB, name string, rules ...string) string {
	t.Helper()
	args := []any{"acl", "setuser", name, "reset", "on", ">pw", "~*", "&*"}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := s.Client().Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("ACL SETUSER %s: %v", name, err)
	}
	return "redis://" + name + ":pw@" + s.Addr()
}
