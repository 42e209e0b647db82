package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// testTerminal is a pseudo-terminal: the command under test gets tty (a
// real terminal to isatty, so app.isTerminal says yes), and the test reads
// what was written to it and types into it through the other end.
type testTerminal struct {
	tty    *os.File
	master *os.File
	mu     sync.Mutex
	out    bytes.Buffer
	done   chan struct{}
}

// openTerminal opens a pseudo-terminal for the test; it fails the test when
// the machine has none (/dev/ptmx).
func openTerminal(t *testing.T) *testTerminal {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("open a pseudo-terminal: %v", err)
	}
	var n uint32
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
		master.Close()
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	if err := ioctl(syscall.TIOCGPTN, unsafe.Pointer(&n)); err != nil {
		master.Close()
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY|syscall.O_CLOEXEC, 0)
	if err != nil {
		master.Close()
		t.Fatalf("open the pseudo-terminal's tty: %v", err)
	}
	term := &testTerminal{tty: tty, master: master, done: make(chan struct{})}
	go func() {
		defer close(term.done)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			term.mu.Lock()
			term.out.Write(b[:n])
			term.mu.Unlock()
			if err != nil {
				return // EIO once the tty is closed
			}
		}
	}()
	t.Cleanup(func() {
		term.tty.Close()
		term.master.Close()
		<-term.done
	})
	return term
}

// sofar returns what has been written to the terminal so far.
func (term *testTerminal) sofar() string {
	term.mu.Lock()
	defer term.mu.Unlock()
	return term.out.String()
}

// answer types line into the terminal once prompt has been written to it
// (within 30 s).
func (term *testTerminal) answer(prompt, line string) {
	go func() {
		for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
			if strings.Contains(term.sofar(), prompt) {
				_, _ = term.master.Write([]byte(line))
				return
			}
		}
	}()
}

// close closes the tty and returns everything written to the terminal.
func (term *testTerminal) close() string {
	term.tty.Close()
	select {
	case <-term.done:
	case <-time.After(5 * time.Second):
	}
	return term.sofar()
}
