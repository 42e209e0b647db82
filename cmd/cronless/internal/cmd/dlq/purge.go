package dlq

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	deadletter "github.com/cronless/cronless/shared/dlq"
)

// DLQPurgeOptions are the options of `dlq purge`.
type DLQPurgeOptions struct {
	actOptions
	ArchivePath string
	Yes         bool
}

// NewCmdDLQPurge is `dlq purge`; runF, when set, runs instead of dlqPurgeRun (tests).
func NewCmdDLQPurge(f *cmdutil.Factory, runF func(*DLQPurgeOptions) error) *cobra.Command {
	opts := &DLQPurgeOptions{actOptions: actOptions{dlqOptions: newDLQOptions(f)}}
	cmd := newCmdScan(f, &cobra.Command{
		Use:   "purge",
		Short: "Delete dead-lettered messages for good (optionally archiving them first)",
		Long: `Delete the messages that match the filters (all of them without filters) from a
dead-letter queue, for good.

With --archive FILE.jsonl each message is appended to the file as a JSON line
(message, attributes, body, last error) and the file is synced to disk before the
message is deleted; if the archive cannot be written, nothing more is deleted.

On a terminal cronless shows how many messages match and asks first, unless --yes.
When stdin is not a terminal it does not ask: pass --yes, or it refuses (exit 2).`,
		Example: `  cronless dlq purge --target old-site --archive purged.jsonl
  cronless dlq purge --older-than 7d --stage prod --yes
  cronless dlq purge --dry-run`,
	}, opts, &opts.dlqOptions, "purge at most this many messages", runF, dlqPurgeRun)
	cmd.Flags().StringVar(&opts.ArchivePath, "archive", "", "append every purged message to this JSON-lines file, synced before the message is deleted")
	cmd.Flags().BoolVar(&opts.Yes, "yes", false, "do not ask for confirmation")
	opts.registerDryRun(cmd, "print what would be purged and change nothing")
	return cmd
}

func dlqPurgeRun(opts *DLQPurgeOptions) error {
	format, flt, err := opts.parse(opts.IO)
	if err != nil {
		return err
	}
	interactive := opts.IO.IsStdinTTY()
	if !opts.DryRun && !opts.Yes && !interactive {
		return cmdutil.Usagef("purge deletes messages for good and stdin is not a terminal, so cronless cannot ask: pass --yes to confirm (or --dry-run to see what would go)")
	}
	ctx := opts.ctx
	o, pairs, sopts, err := opts.openDLQs(flt)
	if err != nil {
		return err
	}
	defer o.Close()
	q := pairs[0].dlq
	if !opts.DryRun && !opts.Yes {
		copts := sopts
		done := Progress(ctx, opts.IO, q, "counting matches in "+q.Name(), &copts)
		sum, err := deadletter.Purge(ctx, q, deadletter.PurgeOptions{Options: copts, DryRun: true})
		done()
		if err != nil {
			return fmt.Errorf("purge: %w", err)
		}
		if sum.Purged == 0 {
			fmt.Fprintf(opts.IO.Out, "Nothing in %s matches (%s); nothing to purge.\n", q.Name(), flt)
			return nil
		}
		arch := "no archive"
		if opts.ArchivePath != "" {
			arch = "archived to " + opts.ArchivePath
		}
		if !confirm(opts.IO.In, opts.IO.ErrOut, fmt.Sprintf("Delete %d messages (%s) from %s on %s for good, %s?", sum.Purged, flt, q.Name(), o.Where, arch)) {
			return errors.New("not confirmed; nothing purged")
		}
	}
	var arch deadletter.Archive
	if opts.ArchivePath != "" && !opts.DryRun {
		af, err := openArchive(opts.ArchivePath)
		if err != nil {
			return fmt.Errorf("archive: %w; nothing purged", err)
		}
		defer af.Close()
		arch = af
	}
	note := ""
	if opts.ArchivePath != "" {
		note = "; archived to " + opts.ArchivePath
	}
	return opts.act(format, q, purgeAction, q.Name()+" on "+o.Where, note, sopts,
		func(sopts deadletter.Options, report deadletter.Report) (deadletter.Summary, error) {
			return deadletter.Purge(ctx, q, deadletter.PurgeOptions{Options: sopts, Archive: arch, DryRun: opts.DryRun, Report: report})
		})
}

// confirm asks a yes/no question on w and reads the answer from r; only
// "y" or "yes" is a yes.
func confirm(r io.Reader, w io.Writer, question string) bool {
	fmt.Fprintf(w, "%s [y/N] ", question)
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && line == "" {
		fmt.Fprintln(w)
		return false
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// openArchive opens (creating it if needed) a purge archive for appending,
// and syncs its directory when it creates it, so the file itself survives a
// crash.
func openArchive(path string) (*os.File, error) {
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if d, err := os.Open(filepath.Dir(path)); err == nil {
			_ = d.Sync()
			_ = d.Close()
		}
	}
	return f, nil
}
