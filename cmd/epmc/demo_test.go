package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/cmd/epmc/demodata"
)

func TestDemoDir(t *testing.T) {
	dir := t.TempDir()
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	for _, want := range []string{"epmc-demo", "epmc-demo-2", "epmc-demo-3"} {
		got, err := demoDir("")
		if err != nil || got != want {
			t.Fatalf("demoDir = %q, %v; want %q", got, err, want)
		}
	}
	if got, err := demoDir("mine"); err != nil || got != "mine" {
		t.Errorf("demoDir(mine) = %q, %v", got, err)
	}
	os.WriteFile("file", nil, 0o644)
	if _, err := demoDir("file"); err == nil || !strings.Contains(err.Error(), "output directory file is a file") {
		t.Errorf("demoDir(file): %v", err)
	}
	path := filepath.Join("epmc-demo", "data", "logistic.csv")
	for range 2 {
		if err := writeDemoData(path); err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(path); !bytes.Equal(b, demodata.LogisticCSV) {
		t.Error("the demo data were not written as embedded")
	}
}

func TestDemoBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"demo", "-j", "0"}, 2, "-j must be at least 1, have 0"},
		{[]string{"demo", "-o", file}, 1, "output directory " + file + " is a file"},
		{[]string{"demo", "extra"}, 2, `unexpected argument "extra"`},
	} {
		_, errOut, code := cli(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, want %d: %s", c.args, code, c.code, errOut)
		}
	}
}

// The demo's note on semiparametric's fallback comes from the combined
// file's metadata, not from the wording of epmc combine's log.
func TestParametricStart(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		info string
		want bool
	}{{`{"method":"semiparametric","parametric_start":true}`, true}, {`{"method":"semiparametric"}`, false}} {
		d := chains.New([]string{"mu"}, 1, 2)
		d.Meta = chains.Meta{Kind: chains.KindCombined, Combine: json.RawMessage(c.info)}
		path := filepath.Join(dir, "semi.arrow")
		if err := chains.WriteFile(path, d, chains.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := parametricStart(path); got != c.want {
			t.Errorf("%s: parametricStart = %v, want %v", c.info, got, c.want)
		}
	}
	if parametricStart(filepath.Join(dir, "missing.arrow")) {
		t.Error("a missing file reports a parametric start")
	}
}
