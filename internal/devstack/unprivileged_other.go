//go:build !linux

package devstack

import "os/exec"

// unprivileged leaves cmd as it is: outside Linux there are no user namespaces to step out of root with, and
// developers' machines there do not run as root.
func unprivileged(*exec.Cmd) {}
