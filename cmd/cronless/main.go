// Command cronless runs scheduled crawls without a cron server: on this
// machine with an embedded backend (the default), or deployed to AWS.
//
// Run `cronless --help` for the commands, and `cronless demo` to see the
// whole pipeline work in seconds.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
