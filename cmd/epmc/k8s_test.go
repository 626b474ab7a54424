package main

import (
	"bytes"
	"errors"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The Kubernetes objects of docs/k8s, with only the fields the manifests
// use: decoding with KnownFields rejects any other (a misspelt field would
// be silently ignored by kubectl apply --validate=false, or rejected by the
// API server, only at run time).
type k8sObject struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec k8sSpec `yaml:"spec"`
}

type k8sSpec struct {
	// Job
	CompletionMode       string       `yaml:"completionMode"`
	Completions          *int         `yaml:"completions"`
	Parallelism          *int         `yaml:"parallelism"`
	BackoffLimit         *int         `yaml:"backoffLimit"`
	BackoffLimitPerIndex *int         `yaml:"backoffLimitPerIndex"`
	MaxFailedIndexes     *int         `yaml:"maxFailedIndexes"`
	Template             *k8sTemplate `yaml:"template"`
	// PersistentVolumeClaim
	AccessModes []string `yaml:"accessModes"`
	Resources   *struct {
		Requests map[string]string `yaml:"requests"`
	} `yaml:"resources"`
	StorageClassName string `yaml:"storageClassName"`
	// Pod
	k8sPodSpec `yaml:",inline"`
}

type k8sTemplate struct {
	Metadata struct {
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Spec k8sPodSpec `yaml:"spec"`
}

type k8sPodSpec struct {
	RestartPolicy string `yaml:"restartPolicy"`
	Containers    []struct {
		Name      string   `yaml:"name"`
		Image     string   `yaml:"image"`
		Command   []string `yaml:"command"`
		Args      []string `yaml:"args"`
		Resources struct {
			Requests map[string]string `yaml:"requests"`
			Limits   map[string]string `yaml:"limits"`
		} `yaml:"resources"`
		VolumeMounts []struct {
			Name      string `yaml:"name"`
			MountPath string `yaml:"mountPath"`
		} `yaml:"volumeMounts"`
	} `yaml:"containers"`
	Volumes []struct {
		Name                  string `yaml:"name"`
		PersistentVolumeClaim struct {
			ClaimName string `yaml:"claimName"`
		} `yaml:"persistentVolumeClaim"`
	} `yaml:"volumes"`
}

func readManifest(t *testing.T, name string) k8sObject {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", "k8s", name))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var obj k8sObject
	if err := dec.Decode(&obj); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("%s: want one object, found more (%v)", name, err)
	}
	if obj.APIVersion == "" || obj.Kind == "" || obj.Metadata.Name == "" {
		t.Fatalf("%s: apiVersion, kind and metadata.name are required", name)
	}
	return obj
}

// checkPod checks one container that mounts the epmc-data claim and
// returns the container's mount path.
func checkPod(t *testing.T, name string, pod k8sPodSpec, claim string) string {
	t.Helper()
	if pod.RestartPolicy != "Never" {
		t.Errorf("%s: restartPolicy %q, want Never (a failed shard is a new pod, retried per index)", name, pod.RestartPolicy)
	}
	if len(pod.Containers) != 1 || len(pod.Volumes) != 1 {
		t.Fatalf("%s: want one container and one volume", name)
	}
	c, v := pod.Containers[0], pod.Volumes[0]
	if v.PersistentVolumeClaim.ClaimName != claim {
		t.Errorf("%s: volume claims %q, the PVC is %q", name, v.PersistentVolumeClaim.ClaimName, claim)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != v.Name || !strings.HasPrefix(c.VolumeMounts[0].MountPath, "/") {
		t.Fatalf("%s: the container must mount volume %q at an absolute path", name, v.Name)
	}
	if c.Image == "" {
		t.Errorf("%s: no image", name)
	}
	return c.VolumeMounts[0].MountPath
}

// TestKubernetesManifests checks docs/k8s: the Indexed Job of sample pods,
// its shard index variable and flags, and the combine Job, whose flags must
// match the sample pods' for epmc run --combine-only to accept the shards.
func TestKubernetesManifests(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("sh not found")
	}
	pvc := readManifest(t, "pvc.yaml")
	if pvc.Kind != "PersistentVolumeClaim" || !slices.Contains(pvc.Spec.AccessModes, "ReadWriteMany") {
		t.Errorf("pvc.yaml: want a ReadWriteMany PersistentVolumeClaim, have %s %v", pvc.Kind, pvc.Spec.AccessModes)
	}
	copyPod := readManifest(t, "copy-pod.yaml")
	if copyPod.Kind != "Pod" {
		t.Errorf("copy-pod.yaml: kind %s", copyPod.Kind)
	}
	checkPod(t, "copy-pod.yaml", copyPod.Spec.k8sPodSpec, pvc.Metadata.Name)

	job := readManifest(t, "sample-job.yaml")
	s := job.Spec
	switch {
	case job.APIVersion != "batch/v1" || job.Kind != "Job":
		t.Fatalf("sample-job.yaml: %s %s, want batch/v1 Job", job.APIVersion, job.Kind)
	case s.CompletionMode != "Indexed":
		t.Errorf("sample-job.yaml: completionMode %q, want Indexed", s.CompletionMode)
	case s.Completions == nil || *s.Completions < 1:
		t.Fatal("sample-job.yaml: completions (M) must be set")
	case s.Parallelism == nil || *s.Parallelism < 1 || *s.Parallelism > *s.Completions:
		t.Errorf("sample-job.yaml: parallelism must be in 1..completions")
	case s.BackoffLimitPerIndex == nil || *s.BackoffLimitPerIndex < 0:
		t.Errorf("sample-job.yaml: backoffLimitPerIndex must be set")
	case s.Template == nil:
		t.Fatal("sample-job.yaml: no pod template")
	}
	M := *s.Completions
	mount := checkPod(t, "sample-job.yaml", s.Template.Spec, pvc.Metadata.Name)

	// Run the container's command with a stand-in epmc that prints its
	// arguments, as pod 3 would run it.
	c := s.Template.Spec.Containers[0]
	if len(c.Command) != 2 || c.Command[0] != "/bin/sh" || c.Command[1] != "-c" || len(c.Args) != 1 {
		t.Fatalf("sample-job.yaml: want command [/bin/sh, -c] and one script argument, have %q %q", c.Command, c.Args)
	}
	script := c.Args[0]
	if !strings.Contains(script, "$JOB_COMPLETION_INDEX") {
		t.Errorf("sample-job.yaml: the script does not use JOB_COMPLETION_INDEX:\n%s", script)
	}
	bin := t.TempDir()
	os.WriteFile(filepath.Join(bin, "epmc"), []byte("#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n"), 0o755)
	cmd := exec.Command(sh, "-c", script)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "JOB_COMPLETION_INDEX=3")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("sample-job.yaml: the script fails: %v", err)
	}
	argv := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	if argv[0] != "sample" {
		t.Fatalf("sample-job.yaml runs epmc %s, want epmc sample", argv[0])
	}
	sfs := newFlagSet(commands["sample"])
	setupSample(sfs)
	if pos, err := parseInterleaved(sfs, argv[1:]); err != nil || len(pos) > 0 {
		t.Fatalf("sample-job.yaml: epmc sample rejects %q: %v %q", argv[1:], err, pos)
	}
	set := map[string]bool{}
	sfs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if set["shard"] {
		t.Error("sample-job.yaml sets --shard; it must come from JOB_COMPLETION_INDEX")
	}
	if got := flagValue[int](sfs, "shards"); got != M {
		t.Errorf("sample-job.yaml: --shards %d but completions %d", got, M)
	}
	e := &env{getenv: func(k string) string {
		if k == "JOB_COMPLETION_INDEX" {
			return "3"
		}
		return ""
	}}
	if m, err := shardIndex(e, 0, false, M); err != nil || m != 3 {
		t.Errorf("epmc sample does not take the shard from JOB_COMPLETION_INDEX: %d %v", m, err)
	}
	outPath := sfs.Lookup("o").Value.String()
	if want := "/data/run/shards/shard-0003.arrow"; outPath != want {
		t.Errorf("sample-job.yaml: pod 3 writes %s, want %s (the layout epmc run --combine-only reads)", outPath, want)
	}
	for _, p := range []string{outPath, flagValue[string](sfs, "data")} {
		if !strings.HasPrefix(p, mount+"/") {
			t.Errorf("sample-job.yaml: %s is not on the shared volume (%s)", p, mount)
		}
	}

	comb := readManifest(t, "combine-job.yaml")
	if comb.APIVersion != "batch/v1" || comb.Kind != "Job" || comb.Spec.Template == nil {
		t.Fatalf("combine-job.yaml: want a batch/v1 Job with a pod template")
	}
	if comb.Spec.CompletionMode != "" {
		t.Errorf("combine-job.yaml: the combine step is one pod, not an Indexed Job")
	}
	checkPod(t, "combine-job.yaml", comb.Spec.Template.Spec, pvc.Metadata.Name)
	cc := comb.Spec.Template.Spec.Containers[0]
	if len(cc.Command) != 1 || cc.Command[0] != "epmc" || len(cc.Args) == 0 || cc.Args[0] != "run" {
		t.Fatalf("combine-job.yaml: want command [epmc] and args [run ...], have %q %q", cc.Command, cc.Args)
	}
	rfs := newFlagSet(commands["run"])
	lf := declareRunFlags(rfs)
	if pos, err := parseInterleaved(rfs, cc.Args[1:]); err != nil || len(pos) > 0 {
		t.Fatalf("combine-job.yaml: epmc run rejects %q: %v %q", cc.Args[1:], err, pos)
	}
	if !lf.combineOnly {
		t.Error("combine-job.yaml: epmc run without --combine-only would sample the shards again")
	}
	if lf.shards != M {
		t.Errorf("combine-job.yaml: --shards %d, the sample job has %d", lf.shards, M)
	}
	if want := filepath.Dir(filepath.Dir(outPath)); lf.out != want {
		t.Errorf("combine-job.yaml: -o %s, the shards are in %s/shards", lf.out, want)
	}
	if _, err := parseMethods(lf.methods); err != nil {
		t.Errorf("combine-job.yaml: %v", err)
	}
	// Every sample setting that epmc run checks must be the same in both.
	for _, name := range []string{"model", "data", "y", "x", "chains", "warmup", "draws", "seed", "sampler", "metric",
		"adapt-delta", "max-depth", "init", "partition", "partition-seed", "prior-scale", "no-intercept", "standardize", "save-warmup"} {
		a, b := sfs.Lookup(name).Value.String(), lf.sample.Lookup(name).Value.String()
		if a != b {
			t.Errorf("--%s is %q in sample-job.yaml but %q in combine-job.yaml: --combine-only would refuse the shards", name, a, b)
		}
	}
	if n, _ := strconv.Atoi(c.Resources.Requests["cpu"]); n > 0 {
		if th := flagValue[int](sfs, "threads"); th != n {
			t.Errorf("sample-job.yaml: --threads %d but the pod requests %d CPUs", th, n)
		}
	}
}
