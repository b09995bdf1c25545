// Package shard talks to Redis for redstage: it reads the topology of a
// standalone server or a Redis Cluster, splits a keyspace into disjoint scan
// partitions, and runs scan, sample, write and delete tasks against them.
package shard
