package main

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// samePeer refuses a peer that is not this process's user (SO_PEERCRED):
// the socket's mode already says so, this holds even if the mode or the
// directory's permissions were loosened.
func samePeer(c *net.UnixConn) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	var (
		cred *syscall.Ucred
		cerr error
	)
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return fmt.Errorf("peer credentials: %w", err)
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if int(cred.Uid) != os.Getuid() {
		return fmt.Errorf("peer uid %d (pid %d) is not the bot's uid %d", cred.Uid, cred.Pid, os.Getuid())
	}
	return nil
}
