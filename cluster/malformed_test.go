package cluster

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/redstage/redstage/internal/redistest"
)

func TestDecodeTaskMsg(t *testing.T) {
	long := "t" + strings.Repeat("-1", 32) // 65 characters, as the endless re-plans made
	cases := []struct {
		name, subject, data string
		ok                  bool
	}{
		{"valid", taskSubject("j1", "t00001"), `{"job":"j1","task":"t00001"}`, true},
		{"not JSON", taskSubject("j1", "t00001"), `{not json`, false},
		{"empty", taskSubject("j1", "t00001"), ``, false},
		{"no job", taskSubject("j1", "t00001"), `{"task":"t00001"}`, false},
		{"task id too long", subjTaskPrefix + "j1." + long, `{"job":"j1","task":"` + long + `"}`, false},
		{"task id with a dot", taskSubject("j1", "t00001"), `{"job":"j1","task":"t.1"}`, false},
		{"other subject", taskSubject("j1", "t00002"), `{"job":"j1","task":"t00001"}`, false},
	}
	for _, c := range cases {
		_, err := decodeTaskMsg(c.subject, []byte(c.data))
		if c.ok != (err == nil) {
			t.Errorf("%s: error %v, want ok=%v", c.name, err, c.ok)
		}
		if err != nil && (!errors.Is(err, ErrMalformedTask) || err.Error() == "") {
			t.Errorf("%s: error %v does not wrap ErrMalformedTask with a message", c.name, err)
		}
	}
}

// TestMalformedTaskMessageFailsJob: a task message that cannot be decoded
// is not dropped: the task its subject names fails, and the job with it,
// with a message saying why.
func TestMalformedTaskMessageFailsJob(t *testing.T) {
	rs := redistest.StartServer(t)
	rs.Load(2000, func(i int) []string {
		return []string{"HSET", fmt.Sprintf("user:%06d", i), "name", fmt.Sprintf("n%d", i), "age", strconv.Itoa(i % 100)}
	})
	tc := newTestCluster(t, 0)
	tc.wcfg.Concurrency = 4
	// Every execution of t00000 waits, so only the malformed message can
	// decide that task.
	b := newBlocker(func(tm *taskMsg, _ int) bool { return tm.Task == "t00000" })
	tc.addWorker(b.hooks("a"))
	defer close(b.release)
	ctx := testCtx(t, 60*time.Second)
	job, err := tc.client.Submit(ctx, usersScan(rs.URL(), 4))
	if err != nil {
		t.Fatal(err)
	}
	defer job.Close()
	b.wait(t, 20*time.Second)
	nc := tc.conn("test-garbler")
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish(ctx, taskSubject(job.ID(), "t00000"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	_, err = job.Wait(ctx)
	var je *JobError
	if !errors.As(err, &je) || je.State != JobFailed {
		t.Fatalf("job ended with %v, want a failed job", err)
	}
	if !strings.Contains(je.Reason, "t00000") || !strings.Contains(je.Reason, ErrMalformedTask.Error()) {
		t.Fatalf("job failed with reason %q, want it to name task t00000 and say %q", je.Reason, ErrMalformedTask)
	}
	if tr := taskRecordOf(t, tc, job.ID(), "t00000"); tr.State != taskFailed {
		t.Fatalf("task t00000 is %s, want failed", tr.State)
	}
}
