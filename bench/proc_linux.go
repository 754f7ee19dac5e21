package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the child get SIGKILL if the bench process dies without stopping it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
