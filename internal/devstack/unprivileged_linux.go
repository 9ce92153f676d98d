package devstack

import (
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// unprivileged makes cmd run as an ordinary user when this process is root, because PostgreSQL's initdb,
// pg_ctl and postgres refuse to run as root. cmd runs in a user namespace of its own where root is mapped to
// nobody: inside, PostgreSQL sees the unprivileged nobody and is content; outside, it is still this process's
// user, so it reads and writes the same files (a cache under /root, a 0700 build directory) without any
// chown, and without a postgres system user having to exist. As any other user cmd is left as it is.
func unprivileged(cmd *exec.Cmd) {
	if os.Geteuid() != 0 {
		return
	}
	uid, gid := 65534, 65534 // nobody and nogroup almost everywhere; initdb needs a name for its user
	if u, err := user.Lookup("nobody"); err == nil {
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Cloneflags |= syscall.CLONE_NEWUSER
	cmd.SysProcAttr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: os.Geteuid(), Size: 1}}
	cmd.SysProcAttr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: os.Getegid(), Size: 1}}
}
