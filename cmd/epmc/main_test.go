package main

import (
	"bytes"
	"context"
	"flag"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary act as the epmc executable, so commands
// that start epmc processes (epmc run) can be tested without a build step:
// with EPMC_TEST_AS_MAIN=1 in the environment the binary runs main.
func TestMain(m *testing.M) {
	if os.Getenv("EPMC_TEST_AS_MAIN") == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// cli runs epmc with args and returns its stdout, stderr and exit status.
func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	return cliEnv(t, nil, args...)
}

// cliEnv is cli with extra environment variables visible to the command.
func cliEnv(t *testing.T, vars map[string]string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	self, _ := os.Executable()
	e := &env{
		ctx: context.Background(), stdin: strings.NewReader(""), stdout: &out, stderr: &errb,
		getenv: func(k string) string { return vars[k] }, self: self,
	}
	code := run(e, args)
	return out.String(), errb.String(), code
}

func TestEveryCommandHasHelp(t *testing.T) {
	for name, c := range commands {
		out, _, code := cli(t, name, "--help")
		if code != 0 || !strings.Contains(out, "Usage: "+c.usage) {
			t.Errorf("%s --help: code %d, output %q", name, code, out)
		}
		if c.summary == "" || c.help == "" {
			t.Errorf("%s lacks a summary or help text", name)
		}
	}
}

func TestTopLevel(t *testing.T) {
	if _, errOut, code := cli(t); code != 2 || !strings.Contains(errOut, "Commands:") {
		t.Errorf("no args: code %d", code)
	}
	if _, errOut, code := cli(t, "frobnicate"); code != 2 || !strings.Contains(errOut, `unknown command "frobnicate"`) {
		t.Errorf("unknown: code %d, %q", code, errOut)
	}
	if out, _, code := cli(t, "version"); code != 0 || !strings.HasPrefix(out, "epmc ") {
		t.Errorf("version: %d %q", code, out)
	}
}

func TestParseInterleaved(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	o := fs.String("o", "", "")
	n := fs.Int("n", 0, "")
	pos, err := parseInterleaved(fs, []string{"a", "-o", "out", "b", "--n=3", "--", "-c", "d"})
	if err != nil {
		t.Fatal(err)
	}
	if *o != "out" || *n != 3 || strings.Join(pos, " ") != "a b -c d" {
		t.Fatalf("o=%q n=%d pos=%v", *o, *n, pos)
	}
}
