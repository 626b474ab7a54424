package chains

import (
	"bytes"
	"fmt"
	"os"
)

// ReadFile reads draws from an Arrow IPC draws file, a CSV file of draws in
// R posterior's draws_df layout or a Stan CSV output file, telling them
// apart by their content.
func ReadFile(path string) (*Draws, error) {
	head := make([]byte, 4096)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	n, _ := f.Read(head)
	f.Close()
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, arrowMagic):
		return ReadArrow(path)
	case n == 0:
		return nil, fmt.Errorf("%s: empty file", path)
	}
	return nil, fmt.Errorf("%s: not an Arrow draws file", path)
}
