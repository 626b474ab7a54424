package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// fence is a fenced code block of a Markdown file.
type fence struct {
	lang string
	text string
	line int // of the opening fence, 1-based
}

// fences returns the fenced code blocks of md, with the indentation of
// their opening fence removed (blocks inside list items are indented).
func fences(md string) []fence {
	var out []fence
	var cur *fence
	indent := ""
	sc := bufio.NewScanner(strings.NewReader(md))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if cur == nil {
			if strings.HasPrefix(trimmed, "```") {
				indent = line[:len(line)-len(trimmed)]
				cur = &fence{lang: strings.TrimSpace(strings.TrimPrefix(trimmed, "```")), line: n}
			}
			continue
		}
		if strings.TrimSpace(line) == "```" {
			out = append(out, *cur)
			cur = nil
			continue
		}
		cur.text += strings.TrimPrefix(line, indent) + "\n"
	}
	return out
}

// readmeSkipped are the README commands no README test runs: the test
// suite itself (CI runs it) and the demo (TestDemo, tagged long, runs it
// and checks the output shown in the README).
var readmeSkipped = []string{"go test ./...", "go run ./cmd/epmc demo"}

var numberRE = regexp.MustCompile(`[-+−]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`)

// normalise makes an output line comparable across machines and runs:
// numbers become #, runs of spaces one space.
func normalise(s string) string {
	return strings.Join(strings.Fields(numberRE.ReplaceAllString(s, "#")), " ")
}

// matchOutput reports whether got has the lines of want, in order, after
// normalising both; a line "…" in want stands for any number of lines.
func matchOutput(want, got string) bool {
	w := strings.Split(strings.TrimRight(want, "\n"), "\n")
	g := strings.Split(strings.TrimRight(got, "\n"), "\n")
	var match func(i, j int) bool
	match = func(i, j int) bool {
		if i == len(w) {
			return j == len(g)
		}
		if strings.TrimSpace(w[i]) == "…" {
			for k := j; k <= len(g); k++ {
				if match(i+1, k) {
					return true
				}
			}
			return false
		}
		return j < len(g) && normalise(w[i]) == normalise(g[j]) && match(i+1, j+1)
	}
	return match(0, 0)
}

// TestReadme runs every sh block of README.md, in order, in one directory
// holding this repository's testdata, with epmc on PATH, and checks each
// block's output (stdout and stderr) against the text block that follows
// it, if any. Absolute paths into that directory print as "…".
func TestReadme(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not found")
	}
	md, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testdata, filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	// epmc is a copy of this test binary (which acts as epmc with
	// EPMC_TEST_AS_MAIN=1), so that epmc slurm sees an executable that
	// outlives the run, as an installed epmc does.
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	exe, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, "epmc"), exe, 0o755); err != nil {
		t.Fatal(err)
	}
	blocks := fences(string(md))
	ran := 0
	for i, b := range blocks {
		if b.lang != "sh" {
			continue
		}
		var lines []string
		for _, l := range strings.Split(b.text, "\n") {
			cmd, _, _ := strings.Cut(l, "#")
			if !containsString(readmeSkipped, strings.TrimSpace(cmd)) {
				lines = append(lines, l)
			}
		}
		script := strings.TrimSpace(strings.Join(lines, "\n"))
		if script == "" {
			continue
		}
		cmd := exec.Command(bash, "-e", "-o", "pipefail", "-c", script)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "EPMC_TEST_AS_MAIN=1", "EPMC_NO_PROGRESS=1")
		out, err := cmd.CombinedOutput()
		got := strings.ReplaceAll(string(out), dir, "…")
		if err != nil {
			t.Fatalf("README.md line %d: %v\n%s\noutput:\n%s", b.line, err, script, got)
		}
		ran++
		if i+1 < len(blocks) && blocks[i+1].lang == "text" && followsDirectly(string(md), b, blocks[i+1]) {
			if want := blocks[i+1].text; !matchOutput(want, got) {
				t.Errorf("README.md line %d: the output of\n%s\nis no longer what line %d shows; now:\n%s", b.line, script, blocks[i+1].line, got)
			}
		}
	}
	if ran < 10 {
		t.Errorf("ran only %d sh blocks of README.md", ran)
	}
}

// followsDirectly reports whether block b2 comes right after b in md, with
// only blank lines between: so it shows b's output.
func followsDirectly(md string, b, b2 fence) bool {
	lines := strings.Split(md, "\n")
	end := b.line + strings.Count(b.text, "\n") // the closing fence, 0-based index
	for k := end + 1; k < b2.line-1; k++ {
		if strings.TrimSpace(lines[k]) != "" {
			return false
		}
	}
	return true
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestMatchOutput(t *testing.T) {
	for _, c := range []struct {
		want, got string
		ok        bool
	}{
		{"a 1.5 b\nc", "a   2.25  b\nc\n", true},
		{"a 1.5 b\nc", "a 2 b\nd", false},
		{"…\nlast", "x\ny\nlast", true},
		{"first\n…", "first\nx\ny", true},
		{"first\n…\nlast", "first\nlast", true},
		{"first\n…\nlast", "first\nlast\nmore", false},
		{"a", "a\nb", false},
	} {
		if got := matchOutput(c.want, c.got); got != c.ok {
			t.Errorf("matchOutput(%q, %q) = %v", c.want, c.got, got)
		}
	}
	md := "x\n```sh\necho 1\n```\n\n```text\n1\n```\n  ```sh\n  echo 2\n  ```\ntext\n```text\n2\n```\n"
	fs := fences(md)
	if len(fs) != 4 || fs[2].text != "echo 2\n" || fs[2].line != 9 {
		t.Fatalf("fences: %+v", fs)
	}
	if !followsDirectly(md, fs[0], fs[1]) || followsDirectly(md, fs[2], fs[3]) {
		t.Error(fmt.Sprint("followsDirectly wrong for ", fs))
	}
}
