package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteCommitsOrLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := WriteFile(p, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "hello" {
		t.Fatalf("got %q", b)
	}
	q := filepath.Join(dir, "fail.txt")
	err := Write(q, func(w io.Writer) error {
		io.WriteString(w, "partial")
		return errors.New("boom")
	})
	if err == nil || err.Error() != "boom" {
		t.Fatalf("err = %v", err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "out.txt" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("directory holds %v, want only out.txt", names)
	}
}

func TestCreateErrors(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "f")
	os.WriteFile(file, nil, 0o644)
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(dir, "missing", "x"), "output directory"},
		{filepath.Join(file, "x"), "is not a directory"},
		{dir, "is a directory"},
	} {
		_, err := Create(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Create(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
}

func TestModeFollowsUmask(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.txt")
	if err := WriteFile(p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	ref := filepath.Join(filepath.Dir(p), "ref.txt")
	f, err := os.Create(ref)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	a, _ := os.Stat(p)
	b, _ := os.Stat(ref)
	if a.Mode().Perm() != b.Mode().Perm() {
		t.Fatalf("mode %v, os.Create gives %v", a.Mode().Perm(), b.Mode().Perm())
	}
}
