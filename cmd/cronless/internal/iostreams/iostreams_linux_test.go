package iostreams

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// TestSystemDetectsTerminals checks the one place that looks at file
// descriptors: a pseudo-terminal is a terminal, a pipe and a buffer are not.
// The CLI's own tests set terminal-ness with Test and run on any OS.
func TestSystemDetectsTerminals(t *testing.T) {
	tty := openTerminal(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	ios := System(tty, w, tty)
	if !ios.IsStdinTTY() || ios.IsStdoutTTY() || !ios.IsStderrTTY() {
		t.Errorf("System(tty, pipe, tty): stdin %v, stdout %v, stderr %v; want true, false, true",
			ios.IsStdinTTY(), ios.IsStdoutTTY(), ios.IsStderrTTY())
	}
	ios = System(strings.NewReader(""), r, w)
	if ios.IsStdinTTY() || ios.IsStdoutTTY() || ios.IsStderrTTY() {
		t.Errorf("System(reader, pipe, pipe) says a terminal")
	}
}

// openTerminal opens a pseudo-terminal and returns its tty end; it fails
// the test when the machine has none (/dev/ptmx).
func openTerminal(t *testing.T) *os.File {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { master.Close() })
	ioctl := func(req uintptr, arg unsafe.Pointer) error {
		rc, err := master.SyscallConn()
		if err != nil {
			return err
		}
		var errno syscall.Errno
		if err := rc.Control(func(fd uintptr) {
			_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, req, uintptr(arg))
		}); err != nil {
			return err
		}
		if errno != 0 {
			return errno
		}
		return nil
	}
	var unlock int32
	if err := ioctl(syscall.TIOCSPTLCK, unsafe.Pointer(&unlock)); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	var n uint32
	if err := ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open the pseudo-terminal's tty: %v", err)
	}
	t.Cleanup(func() { tty.Close() })
	return tty
}
