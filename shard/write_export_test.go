package shard

// SetWriteLanesPerMaster switches per-master write lanes for benchmarks
// (package shard_test) and returns a function restoring the old value.
func SetWriteLanesPerMaster(on bool) (restore func()) {
	old := writeLanesPerMaster
	writeLanesPerMaster = on
	return func() { writeLanesPerMaster = old }
}

// WriteScriptSource is the Lua source of the write script.
const WriteScriptSource = writeScriptSrc

// SetWriteRestore switches the RESTORE path of WriteBatch for benchmarks
// and tests, and returns a function restoring the old value.
func SetWriteRestore(on bool) (restore func()) {
	old := writeRestore
	writeRestore = on
	return func() { writeRestore = old }
}

// HashDump is the RESTORE payload of a hash of the pairs kv.
func HashDump(kv []string) []byte {
	p, _ := appendHashDump(nil, nil, kv)
	return p
}

// RestoreScriptSource is the Lua source of the restore script.
const RestoreScriptSource = restoreScriptSrc

// SetWriteScripts switches the Lua scripts of WriteBatch (off: the watch
// path) for tests and benchmarks, and returns a function restoring the old
// value.
func SetWriteScripts(on bool) (restore func()) {
	old := writeScripts
	writeScripts = on
	return func() { writeScripts = old }
}
