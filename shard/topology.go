package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// NumSlots is the number of Redis Cluster hash slots.
const NumSlots = 16384

// Topology describes the Redis deployment behind a URL. It is small and
// JSON-serialisable so that it can travel inside a task.
type Topology struct {
	Cluster bool   `json:"cluster"`
	Version string `json:"version"`          // server version, e.g. "7.0.15"
	Server  string `json:"server,omitempty"` // "redis" or "valkey"
	DB      int    `json:"db"`
	Masters []Node `json:"masters"` // sorted by address; one entry for a standalone server
}

// Node is a master (or the standalone server).
type Node struct {
	ID    string      `json:"id,omitempty"` // cluster node id; "" for standalone
	Addr  string      `json:"addr"`
	RunID string      `json:"run_id"`
	Slots []SlotRange `json:"slots,omitempty"`
}

// SlotRange is an inclusive range of hash slots, as CLUSTER SLOTS reports.
type SlotRange struct {
	Start int `json:"start"`
	End   int `json:"end"`
}

// Len is the number of slots in the range.
func (r SlotRange) Len() int { return r.End - r.Start + 1 }

// Master returns the master with the given address, or nil.
func (t *Topology) Master(addr string) *Node {
	for i := range t.Masters {
		if t.Masters[i].Addr == addr {
			return &t.Masters[i]
		}
	}
	return nil
}

// SlotOwner returns the master that owns slot, or nil.
func (t *Topology) SlotOwner(slot int) *Node {
	for i := range t.Masters {
		if t.Masters[i].Owns(slot, slot) {
			return &t.Masters[i]
		}
	}
	return nil
}

// Owns reports whether the node owns every slot of [start, end].
func (n *Node) Owns(start, end int) bool {
	for s := start; s <= end; {
		next := -1
		for _, r := range n.Slots {
			if s >= r.Start && s <= r.End {
				next = r.End + 1
				break
			}
		}
		if next < 0 {
			return false
		}
		s = next
	}
	return true
}

// KVStore reports whether the server keeps one dictionary per slot in
// cluster mode (Redis 7.4+ and Valkey 8+), which changes what a SCAN cursor
// means (DESIGN.md §2.2).
func (t *Topology) KVStore() bool {
	major, minor := versionNumbers(t.Version)
	if t.Server == "valkey" {
		return major >= 8
	}
	return major > 7 || (major == 7 && minor >= 4)
}

// versionNumbers parses "major.minor[.patch]"; unknown parts are 0.
func versionNumbers(v string) (major, minor int) {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) > 0 {
		major, _ = strconv.Atoi(parts[0])
	}
	if len(parts) > 1 {
		minor, _ = strconv.Atoi(parts[1])
	}
	return major, minor
}

// String is a one-line summary for logs.
func (t *Topology) String() string {
	kind := "standalone"
	if t.Cluster {
		kind = fmt.Sprintf("cluster of %d masters", len(t.Masters))
	}
	return fmt.Sprintf("%s %s %s db %d", t.Server, t.Version, kind, t.DB)
}
