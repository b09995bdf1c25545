package tests

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redstage/redstage/internal/cli"
	"github.com/redstage/redstage/internal/redistest"
)

// docsPath is the command reference whose examples are run.
const docsPath = "../docs/cli.md"

// docCommand is one "$ " command of a console example in docs/cli.md.
type docCommand struct {
	line int      // 1-based line in the file
	cmd  string   // shell text; continuation lines joined with newlines
	want []string // the output shown ("..." lines dropped)
	code int      // the exit code shown (echo $?), else 0
}

// docExamples returns the commands of every ```console block of path, in
// order. A command's exit code is shown by "$ echo $?" after it or by
// "; echo $?" at its end, followed by the code as the last output line;
// that echo is folded into the command (its code is checked instead).
func docExamples(path string) ([]docCommand, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var cmds []docCommand
	in, cont := false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "```"):
			in, cont = line == "```console", false
		case !in:
		case cont:
			c := &cmds[len(cmds)-1]
			c.cmd += "\n" + line
			cont = strings.HasSuffix(line, `\`)
		case strings.HasPrefix(line, "$ "):
			cmds = append(cmds, docCommand{line: n, cmd: strings.TrimPrefix(line, "$ ")})
			cont = strings.HasSuffix(line, `\`)
		case len(cmds) > 0 && strings.TrimSpace(line) != "..." && strings.TrimSpace(line) != "":
			c := &cmds[len(cmds)-1]
			c.want = append(c.want, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return foldExitCodes(cmds)
}

// foldExitCodes turns the "echo $?" of the examples into expected codes.
func foldExitCodes(cmds []docCommand) ([]docCommand, error) {
	var out []docCommand
	for _, c := range cmds {
		isEcho := c.cmd == "echo $?"
		if !isEcho && !strings.HasSuffix(c.cmd, "; echo $?") {
			out = append(out, c)
			continue
		}
		if len(c.want) == 0 {
			return nil, fmt.Errorf("line %d: %q shows no exit code", c.line, c.cmd)
		}
		code, err := strconv.Atoi(c.want[len(c.want)-1])
		if err != nil {
			return nil, fmt.Errorf("line %d: %q: last output line %q is not an exit code", c.line, c.cmd, c.want[len(c.want)-1])
		}
		if isEcho {
			if len(out) == 0 {
				return nil, fmt.Errorf("line %d: echo $? of nothing", c.line)
			}
			out[len(out)-1].code = code
			continue
		}
		c.cmd = strings.TrimSuffix(c.cmd, "; echo $?")
		c.want = c.want[:len(c.want)-1]
		c.code = code
		out = append(out, c)
	}
	return out, nil
}

// Output is compared up to what changes from run to run.
var docNormalizers = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`\b\d{6}-\d{6}-[0-9a-z]{6}\b`), "JOB"},
	{regexp.MustCompile(`\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}Z?`), "TIME"},
	{regexp.MustCompile(`\b\d+m\d+s\b|\b\d+(\.\d+)?(ms|s)\b`), "DUR"},
	{regexp.MustCompile(`\d[\d,.]*[kMG]?`), "N"},
	{regexp.MustCompile(`\s+`), " "},
}

func normalizeDoc(s string) string {
	for _, n := range docNormalizers {
		s = n.re.ReplaceAllString(s, n.with)
	}
	return strings.TrimSpace(s)
}

// checkedLines are the shown output lines a run must reproduce (normalized):
// the first, and every error and hint line.
func (c docCommand) checkedLines() []string {
	var out []string
	for i, w := range c.want {
		if i == 0 || strings.HasPrefix(w, "redstage: ") {
			out = append(out, w)
		}
	}
	return out
}

// TestDocsExamples runs the console examples of docs/cli.md in order, as one
// bash session in an empty directory, against a real redis-server (and the
// cluster the examples start), and checks each command's exit code and the
// output lines it shows. The Redis and NATS addresses of the examples
// (127.0.0.1:6379, 127.0.0.1:4222) are replaced by free ports.
func TestDocsExamples(t *testing.T) {
	cmds, err := docExamples(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) < 20 {
		t.Fatalf("only %d example commands found in %s", len(cmds), docsPath)
	}
	srv := redistest.StartServer(t)
	natsAddr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	subst := strings.NewReplacer("redis://127.0.0.1:6379", srv.URL(), "127.0.0.1:4222", natsAddr)
	work, outDir := t.TempDir(), t.TempDir()
	var script strings.Builder
	script.WriteString("cd \"$1\" || exit 99\n")
	for i, c := range cmds {
		fmt.Fprintf(&script, "{ %s\n} > %q 2>&1\necho $? > %q\n", subst.Replace(c.cmd),
			filepath.Join(outDir, fmt.Sprintf("%d.out", i)), filepath.Join(outDir, fmt.Sprintf("%d.rc", i)))
	}
	scriptPath := filepath.Join(outDir, "session.sh")
	if err := os.WriteFile(scriptPath, []byte(script.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	runSession(t, scriptPath, work)

	for i, c := range cmds {
		out, _ := os.ReadFile(filepath.Join(outDir, fmt.Sprintf("%d.out", i)))
		rcText, err := os.ReadFile(filepath.Join(outDir, fmt.Sprintf("%d.rc", i)))
		if err != nil {
			t.Fatalf("docs/cli.md:%d: %s: did not run (the session stopped before it)", c.line, c.cmd)
		}
		rc, _ := strconv.Atoi(strings.TrimSpace(string(rcText)))
		if rc != c.code {
			t.Errorf("docs/cli.md:%d: $ %s\nexit %d, the docs show %d; output:\n%s", c.line, c.cmd, rc, c.code, tail(string(out), 20))
			continue
		}
		var got []string
		for _, l := range splitLines(string(out)) {
			got = append(got, normalizeDoc(l))
		}
		for _, w := range c.checkedLines() {
			want := normalizeDoc(subst.Replace(w))
			found := false
			for _, g := range got {
				found = found || g == want
			}
			if !found {
				t.Errorf("docs/cli.md:%d: $ %s\noutput lacks the shown line %q; output:\n%s", c.line, c.cmd, w, tail(string(out), 20))
			}
		}
	}
}

// runSession runs the script with the programs on PATH, in its own process
// group; the cluster it starts in the background is killed at the end.
func runSession(t *testing.T, script, dir string) {
	t.Helper()
	bin := binaries(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, dir)
	cmd.Env = childEnv("PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"))
	log, err := os.Create(filepath.Join(filepath.Dir(script), "session.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer log.Close()
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The background coordinator and workers share the group: stop them.
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if err := cmd.Wait(); err != nil {
		b, _ := os.ReadFile(log.Name())
		t.Fatalf("the session: %v\n%s", err, tail(string(b), 30))
	}
}

// TestExitCodes provokes each exit code of the docs/cli.md table with real
// processes (a redis-server, a cluster of coordinator and worker) and checks
// the table against the codes the programs define.
func TestExitCodes(t *testing.T) {
	documented := docExitCodes(t)
	var defined []int
	for _, c := range cli.ExitCodes {
		defined = append(defined, c.Code)
	}
	if fmt.Sprint(documented) != fmt.Sprint(defined) {
		t.Fatalf("docs/cli.md documents exit codes %v, the programs define %v", documented, defined)
	}
	// Codes that need a job interrupted mid-run are checked where that is
	// arranged; 1 (a bug) cannot be provoked on purpose.
	elsewhere := map[int]string{
		1:   "internal/cli TestClassify (an unclassified error is 1)",
		10:  "TestCancel (redstage cancel while another command waits)",
		130: "TestCancel (SIGINT)",
		141: "TestScanBrokenPipe (scan -o - | head)",
		11:  "TestRedisRefusals (NOAUTH, WRONGPASS: real ACL users)",
		12:  "TestRedisRefusals (no INFO, no SCAN, read-only load and delete)",
		13:  "TestRedisRefusals (database /99)",
	}

	tc := startCluster(t, 1, fastFailover...)
	srv := redistest.StartServer(t)
	env := tc.env(srv.URL())
	dir := sampleDir(t, env)
	customers := filepath.Join(dir, "customers.csv")
	partial := filepath.Join(dir, "partial.csv")
	if err := os.WriteFile(partial, []byte("id,name\n1,a\n,b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustRedstage(t, env, 2*time.Minute, "load", filepath.Join(dir, "users_messy.csv"), "--prefix", "user:", "--json")
	done, _ := r.summary(t)["job"].(string)
	closed := freePort(t)
	cases := []struct {
		name string
		code int
		args []string
	}{
		{"success", 0, []string{"load", customers, "-k", "customer_id", "--prefix", "customer:"}},
		{"status of a finished job", 0, []string{"status", done}},
		{"unknown flag", 2, []string{"load", customers, "--nope"}},
		{"unknown command", 2, []string{"lod", customers}},
		{"missing schema file", 2, []string{"scan", "user:*", "--schema", "@" + filepath.Join(dir, "none.json"), "-o", filepath.Join(dir, "o.csv")}},
		{"unknown type", 2, []string{"scan", "user:*", "--schema", "age:number", "-o", filepath.Join(dir, "o.csv")}},
		{"missing key column", 3, []string{"load", customers, "-k", "id"}},
		{"missing output directory", 3, []string{"load", customers, "--report", filepath.Join(dir, "no", "r.json")}},
		{"Redis unreachable", 4, []string{"delete", "x:*", "--redis", fmt.Sprintf("redis://127.0.0.1:%d", closed)}},
		{"NATS unreachable", 5, []string{"delete", "x:*", "--nats", fmt.Sprintf("nats://127.0.0.1:%d", closed)}},
		{"strict value error", 6, []string{"scan", "user:*", "--schema", "age:int64", "--strict", "-o", filepath.Join(dir, "s.parquet")}},
		{"partial load", 7, []string{"load", partial, "-k", "id", "--prefix", "partial:"}},
		{"status of an unknown job", 8, []string{"status", "no-such-job"}},
		{"cancel of a finished job", 8, []string{"cancel", done}},
		{"nothing matched", 9, []string{"infer", "nothing:*"}},
	}
	covered := map[int]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := redstage(t, env, 2*time.Minute, c.args...)
			if r.code != c.code {
				t.Fatalf("exit %d, want %d\n%s", r.code, c.code, r)
			}
			if c.code != 0 && (!contains(r.stderr, "redstage: error:") || !contains(r.stderr, "what to do:")) {
				t.Errorf("no error and hint on stderr:\n%s", r.stderr)
			}
		})
		covered[c.code] = true
	}
	for _, code := range documented {
		if !covered[code] && elsewhere[code] == "" {
			t.Errorf("documented exit code %d is provoked by no test", code)
		}
	}
}

// docExitCodes returns the codes of the exit-code table of docs/cli.md.
func docExitCodes(t *testing.T) []int {
	t.Helper()
	b, err := os.ReadFile(docsPath)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	start := strings.Index(text, "## Exit codes")
	if start < 0 {
		t.Fatal("docs/cli.md has no Exit codes section")
	}
	end := strings.Index(text[start+1:], "\n## ")
	if end > 0 {
		text = text[start : start+1+end]
	}
	row := regexp.MustCompile(`(?m)^\|\s*(\d+)\s*\|`)
	var codes []int
	for _, m := range row.FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		codes = append(codes, n)
	}
	sort.Ints(codes)
	return codes
}
