package shard

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// replyError is a Redis error reply, as go-redis returns them.
type replyError string

func (e replyError) Error() string { return string(e) }
func (replyError) RedisError()     {}

// TestWriteJudge: how each reply of each write path is counted, and which
// command a key gets next.
func TestWriteJudge(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name     string
		mode     WriteMode
		path     writePath
		val      any
		err      error
		want     outcome
		wantPath writePath // path after the reply (for outAgain)
		wantErr  string
	}{
		{"restored", ModeReplace, pathRestore, "OK", nil, outWritten, pathRestore, ""},
		{"busy replace", ModeReplace, pathRestore, nil, replyError("BUSYKEY Target key name already exists."), outAgain, pathRestoreReplace, ""},
		{"busy skip", ModeSkip, pathRestore, nil, replyError("BUSYKEY Target key name already exists."), outAgain, pathProbe, ""},
		{"busy append", ModeAppend, pathRestore, nil, replyError("BUSYKEY Target key name already exists."), outAgain, pathHSet, ""},
		{"bad payload", ModeReplace, pathRestore, nil, replyError("ERR DUMP payload version or checksum are wrong"), outRefused, pathRestore, "checksum"},
		{"restore renamed", ModeAppend, pathRestore, nil, replyError("ERR unknown command 'restore'"), outRefused, pathRestore, "unknown"},
		{"restore not allowed", ModeReplace, pathRestoreReplace, nil, replyError("ERR Error running script: NOPERM ..."), outRefused, pathRestoreReplace, "NOPERM"},
		{"restore command not allowed", ModeReplace, pathRestore, nil, replyError("NOPERM User loader has no permissions to run the 'restore' command"), outRefused, pathRestore, "restore"},
		{"key not allowed", ModeReplace, pathRestore, nil, replyError("NOPERM No permissions to access a key"), outFailed, pathRestore, "NOPERM"},
		{"replace list", ModeReplace, pathRestoreReplace, nil, replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), outFailed, pathRestoreReplace, "WRONGTYPE"},
		{"replaced", ModeReplace, pathRestoreReplace, int64(1), nil, outWritten, pathRestoreReplace, ""},
		{"probe hash", ModeSkip, pathProbe, "hash", nil, outSkipped, pathProbe, ""},
		{"probe list", ModeSkip, pathProbe, "list", nil, outFailed, pathProbe, "WRONGTYPE"},
		{"probe gone", ModeSkip, pathProbe, "none", nil, outAgain, pathRestore, ""},
		{"hset existing fields", ModeAppend, pathHSet, int64(0), nil, outWritten, pathHSet, ""},
		{"hset list", ModeAppend, pathHSet, nil, replyError("WRONGTYPE Operation against a key holding the wrong kind of value"), outFailed, pathHSet, "WRONGTYPE"},
		{"script skipped", ModeSkip, pathScript, int64(0), nil, outSkipped, pathScript, ""},
		{"script written", ModeSkip, pathScript, int64(1), nil, outWritten, pathScript, ""},
		{"noscript", ModeReplace, pathRestoreReplace, nil, replyError("NOSCRIPT No matching script. Please use EVAL."), outNoScript, pathRestoreReplace, "NOSCRIPT"},
		{"generic script error", ModeReplace, pathScript, nil, replyError("ERR something odd"), outFailed, pathScript, "odd"},
		{"moved", ModeReplace, pathRestore, nil, replyError("MOVED 3999 127.0.0.1:6381"), outNodeError, pathRestore, "MOVED"},
		{"oom", ModeAppend, pathHSet, nil, replyError("OOM command not allowed when used memory > 'maxmemory'."), outNodeError, pathHSet, "OOM"},
		{"cluster down", ModeReplace, pathRestore, nil, replyError("CLUSTERDOWN The cluster is down"), outNodeError, pathRestore, "CLUSTERDOWN"},
		{"busy script", ModeReplace, pathScript, nil, replyError("BUSY Redis is busy running a script."), outNodeError, pathScript, "BUSY"},
		{"busykey off the restore path", ModeReplace, pathScript, nil, replyError("BUSYKEY Target key name already exists."), outFailed, pathScript, "BUSYKEY"},
		{"max clients", ModeReplace, pathRestore, nil, replyError("ERR max number of clients reached"), outNodeError, pathRestore, "clients"},
		{"evalsha refused (7.0)", ModeReplace, pathRestoreReplace, nil, replyError("NOPERM this user has no permissions to run the 'evalsha' command or its subcommand"), outScriptRefused, pathRestoreReplace, "evalsha"},
		{"evalsha refused (7.2)", ModeSkip, pathScript, nil, replyError("NOPERM User loader has no permissions to run the 'evalsha' command"), outScriptRefused, pathScript, "evalsha"},
		{"evalsha renamed", ModeAppend, pathScript, nil, replyError("ERR unknown command 'evalsha', with args beginning with: "), outScriptRefused, pathScript, "unknown"},
		{"hset refused", ModeAppend, pathHSet, nil, replyError("NOPERM User reader has no permissions to run the 'hset' command"), outNodeError, pathHSet, "hset"},
		{"type refused", ModeSkip, pathProbe, nil, replyError("NOPERM User reader has no permissions to run the 'type' command"), outNodeError, pathProbe, "type"},
		{"hset refused in the script", ModeReplace, pathScript, nil, replyError("NOPERM User w has no permissions to run the 'hset' command"), outNodeError, pathScript, "hset"},
		{"connection", ModeReplace, pathRestore, nil, errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), outNodeError, pathRestore, "refused"},
		{"cancelled", ModeReplace, pathRestore, nil, context.Canceled, outNodeError, pathRestore, "canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex := &writeExecutor{opts: WriteOptions{Mode: tt.mode}}
			ex.restore.Store(true)
			ex.scripts.Store(true)
			c := &batchCmd{listpack: true, path: tt.path}
			cmd := redis.NewCmd(ctx)
			if tt.err != nil {
				cmd.SetErr(tt.err)
			} else {
				cmd.SetVal(tt.val)
			}
			got, err := ex.judge(c, cmd)
			if got != tt.want {
				t.Fatalf("outcome %d; want %d (err %v)", got, tt.want, err)
			}
			if got == outAgain && c.path != tt.wantPath {
				t.Fatalf("next path %d; want %d", c.path, tt.wantPath)
			}
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err %v; want one containing %q", err, tt.wantErr)
			}
		})
	}
}
