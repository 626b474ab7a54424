//go:build !unix

package main

import (
	"fmt"
	"os"
	"os/exec"
)

const (
	terminate = 0
	kill      = 1
)

func newProcessGroup(cmd *exec.Cmd) {}

// signalGroup kills the process: without Unix process groups and signals,
// there is no graceful stop.
func signalGroup(pid int, sig int) {
	if p, err := os.FindProcess(pid); err == nil {
		p.Kill()
	}
}

func exitDescription(ee *exec.ExitError) error {
	return fmt.Errorf("exit status %d", ee.ExitCode())
}

// lockDir does nothing here: two launchers in one directory are not
// detected.
func lockDir(dir string) (unlock func(), err error) { return func() {}, nil }
