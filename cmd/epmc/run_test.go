//go:build unix

package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epmc/epmc/chains"
)

// A sample process started by a test as the epmc executable holds (sleeps
// until killed) when EPMC_TEST_HOLD_SHARD=m:MARKER names its shard and
// MARKER does not exist yet; it creates MARKER first. So a test can kill
// the first attempt of shard m mid-run, deterministically, and the retry
// runs normally.
func init() {
	if os.Getenv("EPMC_TEST_AS_MAIN") != "1" {
		return
	}
	shard, marker, ok := strings.Cut(os.Getenv("EPMC_TEST_HOLD_SHARD"), ":")
	if !ok || len(os.Args) < 2 || os.Args[1] != "sample" || !slices.Contains(os.Args, "--shard="+shard) {
		return
	}
	f, err := os.OpenFile(marker, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
	if err != nil {
		return
	}
	f.Close()
	time.Sleep(2 * time.Minute)
	os.Exit(3)
}

// quickRun is a small, fast job on the logistic test data; extra flags
// replace the defaults of the same name (list flags such as --x append
// when repeated).
func quickRun(dir string, shards int, extra ...string) []string {
	args := []string{"run", "--model", "logistic", "--data", "../../testdata/data/logistic.csv", "--x", "x1,x2,x3",
		"--shards", strconv.Itoa(shards), "--chains", "2", "--warmup", "150", "--draws", "150", "--seed", "7",
		"--methods", "consensus", "--no-plots", "-o", dir}
	for i := 0; i < len(extra); i++ {
		if j := slices.Index(args, extra[i]); j > 0 && i+1 < len(extra) && !strings.HasPrefix(extra[i+1], "-") {
			args[j+1] = extra[i+1]
			i++
			continue
		}
		args = append(args, extra[i])
	}
	return args
}

// waitFor polls until cond holds or the time is up.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	waitFor(t, path, time.Minute, func() bool {
		b, err := os.ReadFile(path)
		if err != nil {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// noPartialFiles checks that dir holds no hidden temporaries and that every
// draws file in it is complete.
func noPartialFiles(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if tmpName.MatchString(d.Name()) {
			t.Errorf("temporary file left behind: %s", path)
		}
		if strings.HasSuffix(path, ".arrow") {
			if _, err := chains.ReadArrow(path); err != nil {
				t.Errorf("partial or unreadable output %s: %v", path, err)
			}
		}
		return nil
	})
}

func TestRunRetriesKilledShard(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	marker := filepath.Join(dir, "held")
	t.Setenv("EPMC_TEST_AS_MAIN", "1")
	t.Setenv("EPMC_TEST_HOLD_SHARD", "2:"+marker)

	killed := make(chan int, 1)
	go func() {
		deadline := time.Now().Add(2 * time.Minute)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(marker); err == nil {
				b, err := os.ReadFile(filepath.Join(out, "logs", "shard-0002.pid"))
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && perr == nil {
					syscall.Kill(pid, syscall.SIGKILL)
					killed <- pid
					return
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		killed <- 0
	}()
	stdout, stderr, code := cli(t, quickRun(out, 8, "-j", "2")...)
	if pid := <-killed; pid == 0 {
		t.Fatal("shard 2 was never held")
	}
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stderr, "shard 2: attempt 1 failed (killed by signal killed); starting it again") {
		t.Errorf("no retry reported:\n%s", stderr)
	}
	logb, err := os.ReadFile(filepath.Join(out, "logs", "shard-0002.log"))
	if err != nil {
		t.Fatal(err)
	}
	if log := string(logb); !strings.Contains(log, "attempt 1: killed by signal killed") || !strings.Contains(log, "attempt 2 of 3") || !strings.Contains(log, "attempt 2: done") {
		t.Errorf("shard 2's log does not show the two attempts:\n%s", log)
	}
	for m := range 8 {
		d, err := chains.ReadArrow(filepath.Join(out, "shards", "shard-000"+strconv.Itoa(m)+".arrow"))
		if err != nil {
			t.Fatal(err)
		}
		if d.Meta.Shard != m || d.Meta.Shards != 8 {
			t.Errorf("shard file %d records shard %d of %d", m, d.Meta.Shard, d.Meta.Shards)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "logs", "shard-0002.pid")); err == nil {
		t.Error("pid file left after the run")
	}
	comb, err := chains.ReadArrow(filepath.Join(out, "combined", "consensus.arrow"))
	if err != nil {
		t.Fatal(err)
	}
	if comb.Meta.Kind != chains.KindCombined {
		t.Errorf("combined file has kind %q", comb.Meta.Kind)
	}
	for _, want := range []string{"combined/consensus.arrow", "summary/summary.txt", "logs/"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %s:\n%s", want, stdout)
		}
	}
	noPartialFiles(t, out)
}

// TestRunInterruptAndResume sends SIGTERM to a real epmc run process while
// one shard is held and others sample, then runs again in the same
// directory.
func TestRunInterruptAndResume(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	marker := filepath.Join(dir, "held")
	t.Setenv("EPMC_TEST_AS_MAIN", "1")
	t.Setenv("EPMC_TEST_HOLD_SHARD", "1:"+marker)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(self, quickRun(out, 4, "-j", "2", "--grace", "2s")...)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	waitFor(t, "shard 1 to be held", time.Minute, func() bool { _, err := os.Stat(marker); return err == nil })
	held := readPID(t, filepath.Join(out, "logs", "shard-0001.pid"))
	waitFor(t, "shard 0 to finish", time.Minute, func() bool {
		_, err := os.Stat(filepath.Join(out, "shards", "shard-0000.arrow"))
		return err == nil
	})
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "interrupted") {
		t.Fatalf("epmc run after SIGTERM: %v\n%s", err, stderr.String())
	}
	if err := syscall.Kill(held, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("held shard process %d still exists after the launcher stopped (kill 0: %v)", held, err)
	}
	if _, err := os.Stat(filepath.Join(out, "combined", "consensus.arrow")); err == nil {
		t.Error("combined output written by an interrupted run")
	}
	noPartialFiles(t, out)

	// A temporary left by a killed process is removed; shard 0 is kept,
	// the rest are sampled.
	stale := filepath.Join(out, "shards", ".shard-0003.arrow.tmp-12345")
	if err := os.WriteFile(stale, []byte("partial"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := cli(t, quickRun(out, 4, "-j", "2")...)
	if code != 0 {
		t.Fatalf("resume: exit %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"shard 0: " + filepath.Join(out, "shards", "shard-0000.arrow") + " is complete and matches this run, kept",
		"removed " + stale,
		"shard 1: started (attempt 1 of 3)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("resume output lacks %q:\n%s", want, errOut)
		}
	}
	noPartialFiles(t, out)

	// Changing a sampler setting samples every shard again, saying why;
	// --combine-only refuses files that do not match.
	_, errOut, code = cli(t, quickRun(out, 4, "--combine-only", "--draws", "100")...)
	if code != 1 || !strings.Contains(errOut, "has --draws = 150, this run wants 100") {
		t.Errorf("--combine-only with other settings: exit %d\n%s", code, errOut)
	}
	_, errOut, code = cli(t, quickRun(out, 4, "--combine-only")...)
	if code != 0 || strings.Contains(errOut, "started") {
		t.Errorf("--combine-only: exit %d\n%s", code, errOut)
	}
}

func TestCheckDraws(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	t.Setenv("EPMC_TEST_AS_MAIN", "1")
	if _, errOut, code := cli(t, quickRun(out, 2, "--reference")...); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	for _, c := range []struct {
		name string
		args []string
		want string // "" means the files are kept
	}{
		{"same", nil, ""},
		{"seed", []string{"--seed", "8"}, "seed 7, this run wants 8"},
		{"chains", []string{"--chains", "3"}, "chain count 2, this run wants 3"},
		{"model", []string{"--prior-scale", "2"}, "has another model"},
		{"data columns", []string{"--x", "x1,x2"}, "was sampled from other data"},
		{"partition", []string{"--partition", "block"}, "has partition hash"},
		{"sampler", []string{"--sampler", "rwm"}, "has --sampler = nuts, this run wants rwm"},
		{"adapt delta", []string{"--adapt-delta", "0.9"}, "has --adapt-delta = 0.8, this run wants 0.9"},
	} {
		t.Run(c.name, func(t *testing.T) {
			lf := declareRunFlags(newFlagSet(commands["run"]))
			args := quickRun(out, 2, append([]string{"--reference"}, c.args...)...)[1:]
			if _, err := parseInterleaved(lf.fs, args); err != nil {
				t.Fatal(err)
			}
			var sink bytes.Buffer
			l, err := newLauncher(&env{ctx: context.Background(), stderr: &sink, stdout: &sink}, lf)
			if err != nil {
				t.Fatal(err)
			}
			for m := range 2 {
				exp := l.shardExp
				exp.shard = m
				why := checkDraws(l.shardPath(m), exp)
				if (c.want == "") != (why == "") || !strings.Contains(why, c.want) {
					t.Errorf("shard %d: %q, want %q", m, why, c.want)
				}
			}
			if why := checkDraws(l.referencePath(), l.refExp); (c.want == "") != (why == "") {
				t.Errorf("reference: %q, want %q", why, c.want)
			}
		})
	}
	// A truncated file is not kept.
	p := filepath.Join(out, "shards", "shard-0001.arrow")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, b[:len(b)/2], 0o644)
	lf := declareRunFlags(newFlagSet(commands["run"]))
	parseInterleaved(lf.fs, quickRun(out, 2)[1:])
	var sink bytes.Buffer
	l, err := newLauncher(&env{ctx: context.Background(), stderr: &sink, stdout: &sink}, lf)
	if err != nil {
		t.Fatal(err)
	}
	exp := l.shardExp
	exp.shard = 1
	if why := checkDraws(p, exp); !strings.Contains(why, "is not readable") {
		t.Errorf("truncated file: %q", why)
	}
}

func TestRunBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	t.Setenv("EPMC_TEST_AS_MAIN", "1")
	for _, c := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"missing data", []string{"run", "--model", "logistic", "--data", filepath.Join(dir, "nope.csv"), "--x", "x1", "--shards", "2", "-o", filepath.Join(dir, "o1")},
			1, "data file " + filepath.Join(dir, "nope.csv") + " does not exist"},
		{"output is a file", quickRun(file, 2), 1, "output directory " + file + " is a file"},
		{"-j 0", quickRun(filepath.Join(dir, "o2"), 2, "-j", "0"), 2, "-j must be at least 1, have 0"},
		{"unknown method", quickRun(filepath.Join(dir, "o3"), 2, "--methods", "consensus,bogus"), 2, `unknown combination method "bogus"`},
		{"method flag", quickRun(filepath.Join(dir, "o3"), 2, "--methods", "semiparametric:bandwith=4"), 2, "epmc combine has no flag --bandwith"},
		{"method flag value", quickRun(filepath.Join(dir, "o3"), 2, "--methods", "semiparametric:draws=many"), 2, "--methods semiparametric:draws=many: --draws"},
		{"method twice", quickRun(filepath.Join(dir, "o3"), 2, "--methods", "swiss,swiss"), 2, "swiss is listed twice"},
		{"no shards", []string{"run", "--model", "logistic", "--data", "../../testdata/data/logistic.csv", "--x", "x1", "-o", filepath.Join(dir, "o4")}, 2, "--shards is required"},
		{"no model", []string{"run", "--data", "x.csv", "--shards", "2", "-o", filepath.Join(dir, "o4")}, 2, "--model is required"},
		{"missing column", quickRun(filepath.Join(dir, "o5"), 2, "--x", "x1,x9"), 1, `x9`},
		{"too many shards", quickRun(filepath.Join(dir, "o6"), 500), 1, "has 400 rows: too few for 500 shards"},
		{"shard flag", quickRun(filepath.Join(dir, "o7"), 2, "--shard", "1"), 2, "flag provided but not defined: -shard"},
		// Caught by the sample processes (exit 2): the run stops at once.
		{"bad sample setting", quickRun(filepath.Join(dir, "o8"), 2, "--adapt-delta", "1.5"), 2, "--adapt-delta must be in (0, 1), have 1.5"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := cli(t, c.args...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, want %d; stderr:\n%s\nwant %q", code, c.code, errOut, c.want)
			}
			if strings.Count(strings.TrimSpace(errOut), "\n") > 4 && c.code == 2 && c.name != "bad sample setting" {
				t.Errorf("error is not short:\n%s", errOut)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "o8", "combined")); err == nil {
		t.Error("a run stopped by bad usage went on to combine")
	}
}

func TestParseMethods(t *testing.T) {
	ms, err := parseMethods("consensus, semiparametric:bandwidth=4:draws=2000,swiss:zstd")
	if err != nil {
		t.Fatal(err)
	}
	got := []string{}
	for _, m := range ms {
		got = append(got, m.name+" "+strings.Join(m.args, " "))
	}
	want := []string{"consensus ", "semiparametric --bandwidth=4 --draws=2000", "swiss --zstd=true"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, bad := range []string{"", ",", "consensus:o=x", "nonparametric:method=swiss", "consensus:group=2"} {
		if _, err := parseMethods(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestShellJoin(t *testing.T) {
	got := shellJoin([]string{"epmc", "--x", "a,b", "--methods", "semi:bandwidth=4", "it's", "a b", ""})
	want := `epmc --x a,b --methods semi:bandwidth=4 'it'\''s' 'a b' ''`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// TestRunResumeSMC: resume reads the settings of each sampler's own
// metadata, here SMC's.
func TestRunResumeSMC(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	t.Setenv("EPMC_TEST_AS_MAIN", "1")
	args := []string{"run", "--model", "logistic", "--data", "../../testdata/data/logistic.csv", "--x", "x1,x2",
		"--shards", "2", "--sampler", "smc", "--chains", "2", "--draws", "200", "--methods", "consensus", "--no-plots", "-o", out}
	if _, errOut, code := cli(t, args...); code != 0 {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if _, errOut, code := cli(t, args...); code != 0 || strings.Count(errOut, "matches this run, kept") != 2 {
		t.Errorf("second run: exit %d\n%s", code, errOut)
	}
	args[slices.Index(args, "--draws")+1] = "300"
	if _, errOut, code := cli(t, args...); code != 0 || !strings.Contains(errOut, "has --draws = 200, this run wants 300") {
		t.Errorf("run with other --draws: exit %d\n%s", code, errOut)
	}
}
