//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

const (
	terminate = syscall.SIGTERM
	kill      = syscall.SIGKILL
)

// newProcessGroup makes cmd the leader of a new process group, so that a
// signal to the group reaches anything it starts, and so that Ctrl-C in
// the terminal reaches epmc run alone, which then stops its children in
// order.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// signalGroup sends sig to the process group led by pid.
func signalGroup(pid int, sig syscall.Signal) {
	syscall.Kill(-pid, sig)
}

// exitDescription says how a child ended: "exit status 1" or "killed by
// signal SIGKILL".
func exitDescription(ee *exec.ExitError) error {
	if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return fmt.Errorf("killed by signal %v", ws.Signal())
	}
	return fmt.Errorf("exit status %d", ee.ExitCode())
}

// lockDir takes an exclusive lock on DIR/.epmc-run.lock, so that two
// launchers cannot work in one directory (each would take the other's
// temporaries for leftovers of a killed process). The lock dies with the
// process.
func lockDir(dir string) (unlock func(), err error) {
	path := filepath.Join(dir, ".epmc-run.lock")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, fmt.Errorf("output directory %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another epmc run is working in %s (lock %s)", dir, path)
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return func() { f.Close() }, nil
}
