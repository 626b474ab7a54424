//go:build unix

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/epmc/epmc/chains"
)

// epmcWrapper writes an executable "epmc" into dir that runs this test
// binary as the epmc command, and returns its path.
func epmcWrapper(t *testing.T, dir string) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "epmc")
	script := fmt.Sprintf("#!/bin/sh\nEPMC_TEST_AS_MAIN=1 exec %s \"$@\"\n", shellJoin([]string{self}))
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// slurmArgs is a small 4-shard job on the logistic test data.
func slurmArgs(epmc, out string, extra ...string) []string {
	data, _ := filepath.Abs("../../testdata/data/logistic.csv")
	args := []string{"slurm", "--epmc", epmc, "--model", "logistic", "--data", data, "--x", "x1,x2,x3",
		"--shards", "4", "--chains", "2", "--warmup", "150", "--draws", "150", "--seed", "3",
		"--methods", "consensus,swiss", "--reference", "--cpus", "1", "--mem", "300M", "--time", "10", "-o", out}
	return append(args, extra...)
}

// checkCombined checks that path holds combined draws of shards 0..3.
func checkCombined(t *testing.T, path string) {
	t.Helper()
	d, err := chains.ReadArrow(path)
	if err != nil {
		t.Fatal(err)
	}
	if d.Meta.Kind != chains.KindCombined {
		t.Errorf("%s: kind %q, want combined", path, d.Meta.Kind)
	}
	var rec struct {
		Shards int `json:"shards"`
		Inputs []struct {
			Shard *int `json:"shard"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(d.Meta.Combine, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Shards != 4 || len(rec.Inputs) != 4 {
		t.Fatalf("%s combines %d shards from %d inputs, want 4", path, rec.Shards, len(rec.Inputs))
	}
	for i, in := range rec.Inputs {
		if in.Shard == nil || *in.Shard != i {
			t.Errorf("%s: input %d is not shard %d", path, i, i)
		}
	}
}

// TestSlurmScriptsRunLocally writes the scripts and runs them with bash as
// Slurm would (the #SBATCH lines are comments to bash), then runs
// submit.sh against a fake sbatch that records its arguments.
func TestSlurmScriptsRunLocally(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	dir := t.TempDir()
	epmc := epmcWrapper(t, filepath.Join(dir, "bin"))
	out := filepath.Join(dir, "job")
	stdout, stderr, code := cli(t, slurmArgs(epmc, out, "--array-limit", "2", "--slurm-partition", "short", "--account", "proj-1")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	scripts := filepath.Join(out, "slurm")
	for _, f := range []string{"sample.sbatch", "reference.sbatch", "combine.sbatch", "submit.sh"} {
		if !strings.Contains(stdout, filepath.Join(scripts, f)) {
			t.Errorf("output does not list %s:\n%s", f, stdout)
		}
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(scripts, name))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	sample := read("sample.sbatch")
	for _, want := range []string{
		"#SBATCH --array=0-3%2\n", "#SBATCH --output=" + filepath.Join(out, "logs", "shard-%4a.log") + "\n",
		"#SBATCH --cpus-per-task=1\n", "#SBATCH --mem=300M\n", "#SBATCH --time=10\n",
		"#SBATCH --partition=short\n", "#SBATCH --account=proj-1\n", "#SBATCH --job-name=epmc-sample\n",
	} {
		if !strings.Contains(sample, want) {
			t.Errorf("sample.sbatch lacks %q:\n%s", want, sample)
		}
	}
	if strings.Contains(sample, "--shard=") || strings.Contains(sample, "--shard ") {
		t.Errorf("sample.sbatch sets --shard; epmc sample should take it from SLURM_ARRAY_TASK_ID:\n%s", sample)
	}
	for _, d := range []string{"logs", "shards"} {
		if st, err := os.Stat(filepath.Join(out, d)); err != nil || !st.IsDir() {
			t.Errorf("%s/ not created: Slurm needs the log directory to exist", d)
		}
	}

	runScript := func(name string, env ...string) {
		t.Helper()
		cmd := exec.Command(bash, filepath.Join(scripts, name))
		cmd.Env = append(os.Environ(), env...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s %v: %v\n%s", name, env, err, b)
		}
	}
	for m := range 4 {
		runScript("sample.sbatch", "SLURM_ARRAY_TASK_ID="+strconv.Itoa(m), "SLURM_CPUS_PER_TASK=1")
	}
	runScript("reference.sbatch")
	runScript("combine.sbatch")
	checkCombined(t, filepath.Join(out, "combined", "consensus.arrow"))
	for _, f := range []string{"reference.arrow", "combined/swiss.arrow", "summary/compare.txt", "plots/pairs.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("combine job did not make %s: %v", f, err)
		}
	}

	// submit.sh chains the jobs: the combine job depends on the array and
	// the reference.
	fake := filepath.Join(dir, "fakebin")
	os.MkdirAll(fake, 0o755)
	calls := filepath.Join(dir, "sbatch-calls")
	os.WriteFile(filepath.Join(fake, "sbatch"), []byte(`#!/bin/sh
echo "$*" >> `+calls+`
n=$(wc -l < `+calls+`)
echo "$((n + 40));cluster"
`), 0o755)
	cmd := exec.Command("sh", filepath.Join(scripts, "submit.sh"))
	cmd.Env = append(os.Environ(), "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"))
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("submit.sh: %v\n%s", err, b)
	}
	got, _ := os.ReadFile(calls)
	want := "--parsable sample.sbatch\n--parsable reference.sbatch\n--parsable --dependency=afterok:41:42 --kill-on-invalid-dep=yes combine.sbatch\n"
	if string(got) != want {
		t.Errorf("sbatch calls:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(string(b), "combine: job 43") {
		t.Errorf("submit.sh output:\n%s", b)
	}
}

func TestSlurmBadInput(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		extra []string
		code  int
		want  string
	}{
		{"time", []string{"--time", "soon"}, 2, `--time "soon"`},
		{"mem", []string{"--mem", "lots"}, 2, `--mem "lots"`},
		{"cpus", []string{"--cpus", "-1"}, 2, "--cpus must not be negative"},
		{"partition", []string{"--slurm-partition", "a b"}, 2, "--slurm-partition"},
		{"method", []string{"--methods", "nope"}, 2, `unknown combination method "nope"`},
		{"data", []string{"--data", filepath.Join(dir, "none.csv")}, 1, "does not exist"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, errOut, code := cli(t, slurmArgs("epmc", filepath.Join(dir, "o"), c.extra...)...)
			if code != c.code || !strings.Contains(errOut, c.want) {
				t.Errorf("exit %d, want %d: %s", code, c.code, errOut)
			}
		})
	}
}

// TestSlurmCluster starts a single-node Slurm on this machine (Debian's
// slurmctld, slurmd, slurm-client and munge; it must run as root), submits
// a 4-task array, the full-data reference and the dependent combine job
// written by epmc slurm, waits, and checks the combined file. .ci/run runs
// it with EPMC_SLURM_TEST=1.
func TestSlurmCluster(t *testing.T) {
	if os.Getenv("EPMC_SLURM_TEST") == "" {
		t.Skip("set EPMC_SLURM_TEST=1 to start a single-node Slurm and submit a job to it (needs root and Debian's slurmctld slurmd slurm-client munge)")
	}
	for _, tool := range []string{"slurmctld", "slurmd", "sbatch", "scontrol", "sinfo", "munged", "munge", "unmunge", "runuser"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("EPMC_SLURM_TEST is set but %s is not installed: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge", tool)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("EPMC_SLURM_TEST is set but the Slurm test must run as root (it starts munged and the Slurm daemons)")
	}
	dir, err := os.MkdirTemp("", "epmc-slurm-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	startMunge(t)
	conf := startSlurm(t, dir)
	slurmEnv := append(os.Environ(), "SLURM_CONF="+conf)

	epmc := epmcWrapper(t, filepath.Join(dir, "bin"))
	out := filepath.Join(dir, "job")
	if _, stderr, code := cli(t, slurmArgs(epmc, out)...); code != 0 {
		t.Fatalf("epmc slurm: exit %d: %s", code, stderr)
	}
	submit := exec.Command("sh", filepath.Join(out, "slurm", "submit.sh"))
	submit.Env = slurmEnv
	b, err := submit.CombinedOutput()
	if err != nil {
		t.Fatalf("submit.sh: %v\n%s", err, b)
	}
	t.Logf("submit.sh:\n%s", b)
	m := regexp.MustCompile(`combine: job ([0-9]+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no combine job id in:\n%s", b)
	}
	job := string(m[1])
	state := ""
	deadline := time.Now().Add(5 * time.Minute)
	for {
		cmd := exec.Command("scontrol", "show", "job", job)
		cmd.Env = slurmEnv
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("scontrol show job %s: %v\n%s", job, err, b)
		}
		if s := regexp.MustCompile(`JobState=([A-Z_]+)`).FindSubmatch(b); s != nil {
			state = string(s[1])
		}
		if state == "COMPLETED" {
			break
		}
		if state == "FAILED" || state == "CANCELLED" || state == "TIMEOUT" || state == "OUT_OF_MEMORY" || state == "NODE_FAIL" || time.Now().After(deadline) {
			logs, _ := filepath.Glob(filepath.Join(out, "logs", "*.log"))
			for _, l := range logs {
				lb, _ := os.ReadFile(l)
				t.Logf("%s:\n%s", l, lb)
			}
			t.Fatalf("combine job %s ended %s:\n%s", job, state, b)
		}
		time.Sleep(time.Second)
	}
	checkCombined(t, filepath.Join(out, "combined", "consensus.arrow"))
	for m := range 4 {
		if _, err := os.Stat(filepath.Join(out, "logs", fmt.Sprintf("shard-%04d.log", m))); err != nil {
			t.Errorf("array task %d wrote no log: %v", m, err)
		}
	}
	log, _ := os.ReadFile(filepath.Join(out, "logs", "combine.log"))
	if !strings.Contains(string(log), "is complete and matches this run, kept") || !strings.Contains(string(log), "summary/compare.txt") {
		t.Errorf("combine log:\n%s", log)
	}
}

// startMunge starts munged unless a working one is running, and stops it
// at the end of the test if it started it.
func startMunge(t *testing.T) {
	t.Helper()
	works := func() bool {
		return exec.Command("sh", "-c", "munge -n | unmunge >/dev/null").Run() == nil
	}
	if works() {
		return
	}
	if err := os.MkdirAll("/run/munge", 0o755); err != nil {
		t.Fatal(err)
	}
	if b, err := exec.Command("chown", "munge:munge", "/run/munge").CombinedOutput(); err != nil {
		t.Fatalf("chown /run/munge: %v %s", err, b)
	}
	if b, err := exec.Command("runuser", "-u", "munge", "--", "munged").CombinedOutput(); err != nil {
		t.Fatalf("munged: %v %s", err, b)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile("/run/munge/munged.pid"); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
	for range 50 {
		if works() {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatal("munged does not answer (munge -n | unmunge)")
}

// startSlurm writes a one-node slurm.conf under dir (loopback, daemons and
// jobs as root, no accounting; ports 6917 and 6918, so that a Slurm
// already on the machine is not disturbed), starts slurmctld
// and slurmd in the foreground as children of the test, waits until the
// node is idle and returns the configuration's path.
func startSlurm(t *testing.T, dir string) string {
	t.Helper()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	host, _, _ = strings.Cut(host, ".")
	mem := 2000
	if f, err := os.Open("/proc/meminfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var kb int
			if n, _ := fmt.Sscanf(sc.Text(), "MemTotal: %d kB", &kb); n == 1 {
				mem = max(1000, kb/1024-1024)
			}
		}
		f.Close()
	}
	sd := filepath.Join(dir, "slurm")
	for _, d := range []string{"state", "spool"} {
		os.MkdirAll(filepath.Join(sd, d), 0o755)
	}
	conf := filepath.Join(sd, "slurm.conf")
	text := fmt.Sprintf(`ClusterName=epmctest
SlurmctldHost=%[1]s(127.0.0.1)
SlurmctldPort=6917
SlurmdPort=6918
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerType=sched/backfill
StateSaveLocation=%[2]s/state
SlurmdSpoolDir=%[2]s/spool
SlurmctldPidFile=%[2]s/slurmctld.pid
SlurmdPidFile=%[2]s/slurmd.pid
SlurmctldLogFile=%[2]s/slurmctld.log
SlurmdLogFile=%[2]s/slurmd.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
NodeName=%[1]s NodeAddr=127.0.0.1 CPUs=%[3]d RealMemory=%[4]d State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
`, host, sd, runtime.NumCPU(), mem)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, d := range []struct{ name, arg string }{{"slurmctld", "-i"}, {"slurmd", ""}} {
		args := []string{"-D", "-f", conf}
		if d.arg != "" {
			args = append(args, d.arg)
		}
		logf, err := os.Create(filepath.Join(sd, d.name+".out"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(d.name, args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.Env = append(os.Environ(), "SLURM_CONF="+conf)
		if err := cmd.Start(); err != nil {
			t.Fatalf("%s: %v", d.name, err)
		}
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				<-done
			}
			logf.Close()
		})
	}
	deadline := time.Now().Add(time.Minute)
	for {
		cmd := exec.Command("sinfo", "-h", "-o", "%T")
		cmd.Env = append(os.Environ(), "SLURM_CONF="+conf)
		b, _ := cmd.CombinedOutput()
		if strings.TrimSpace(string(b)) == "idle" {
			return conf
		}
		if time.Now().After(deadline) {
			for _, f := range []string{"slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out"} {
				lb, _ := os.ReadFile(filepath.Join(sd, f))
				t.Logf("%s:\n%s", f, lb)
			}
			t.Fatalf("the Slurm node did not become idle: sinfo says %q", b)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
