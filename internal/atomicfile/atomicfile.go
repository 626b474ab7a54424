// Package atomicfile writes files that appear under their final name only
// when they are complete: data go to a hidden temporary file in the same
// directory, which is synced and renamed over the target on Commit. A crash,
// an error or an interrupt leaves at most a hidden temporary file behind,
// never a partial file under the final name.
package atomicfile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// File is a temporary file that becomes path on Commit.
type File struct {
	*os.File
	path string
	done bool
}

// Create opens a new temporary file beside path. The directory must exist
// and be writable; the error says so otherwise.
func Create(path string) (*File, error) {
	f, err := Temp(path, "")
	if err != nil {
		return nil, err
	}
	return &File{File: f, path: path}, nil
}

// Temp creates a hidden temporary file in path's directory whose name
// starts with path's base name and tag, for scratch data that belong to the
// eventual output (such as per-chain spill files). The caller removes it.
func Temp(path, tag string) (*os.File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	if st, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	} else if !st.IsDir() {
		return nil, fmt.Errorf("output directory %s is not a directory", dir)
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("output %s is a directory", path)
	}
	// os.CreateTemp would make the file 0600; outputs are ordinary files,
	// so create with 0666 and let the umask decide, as os.Create does.
	for range 100 {
		name := filepath.Join(dir, fmt.Sprintf(".%s%s.tmp-%d", base, tag, rand.Uint64()))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cannot create output %s: %w", path, err)
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot create output %s: no free temporary name", path)
}

// Path is the final name of the file.
func (f *File) Path() string { return f.path }

// Commit syncs and closes the temporary file and renames it to the final
// path. After Commit, Abort does nothing.
func (f *File) Commit() error {
	if f.done {
		return errors.New("atomicfile: commit after commit or abort")
	}
	f.done = true
	tmp := f.File.Name()
	err := f.File.Sync()
	if cerr := f.File.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	return nil
}

// Abort closes and removes the temporary file. It is safe to call more than
// once and after Commit, so it can be deferred.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.File.Close()
	os.Remove(f.File.Name())
}

// WriteFile writes data to path atomically.
func WriteFile(path string, data []byte) error {
	return Write(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// Write calls fill with a writer on a temporary file and commits the file
// to path if fill succeeds; otherwise nothing appears under path.
func Write(path string, fill func(w io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if err := fill(f); err != nil {
		return err
	}
	return f.Commit()
}
