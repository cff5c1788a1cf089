package image

import (
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// chrootAs runs path inside root as the image's USER (uid:gid), with the image's files as
// the whole filesystem: the CA bundle, /etc/passwd and the absence of a shell are the ones
// the manager would see in a pod.
func chrootAs(root, user, path string, args ...string) *exec.Cmd {
	uidText, gidText, _ := strings.Cut(user, ":")
	uid, _ := strconv.ParseUint(uidText, 10, 32)
	gid, _ := strconv.ParseUint(gidText, 10, 32)
	// Not exec.Command: it would look path up on this machine's filesystem, outside root.
	cmd := &exec.Cmd{Path: path, Args: append([]string{path}, args...), Dir: "/"}
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Chroot:     root,
		Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}},
	}
	return cmd
}
