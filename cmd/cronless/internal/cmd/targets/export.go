package targets

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/cronless/cronless/cmd/cronless/internal/cmdutil"
	"github.com/cronless/cronless/shared/targets"
)

// ExportOptions are the options of `targets export`.
type ExportOptions struct {
	storeOptions
	Format string
	// File is where to write (-o); empty or "-": stdout.
	File string
}

// NewCmdExport is `targets export`; runF, when set, runs instead of
// exportRun (tests).
func NewCmdExport(f *cmdutil.Factory, runF func(*ExportOptions) error) *cobra.Command {
	opts := &ExportOptions{storeOptions: newStoreOptions(f)}
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Write the stored list as a file import reads back",
		Long: `Write the stored target list as YAML, JSON lines or CSV, the formats
` + "`cronless targets import`" + ` reads: importing the file into the same store changes
nothing, and into another gives it the same list. The targets come schedule by
schedule, host by host, in rank order, so that an import keeps their ranks.

--format defaults to the one -o FILE's name says (.yaml, .yml, .jsonl, .ndjson,
.csv), and to YAML on stdout. A CSV cell cannot hold extract rules: a list with a
target that has rules of its own exports as YAML or JSON lines. With -o, the file is written whole or not at all.`,
		Example: `  cronless targets export > list.yaml
  cronless targets export --format csv -o list.csv --stage prod`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.set(f, cmd)
			return cmdutil.RunOr(opts, runF, exportRun)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "", "yaml, jsonl or csv (default: the one -o FILE's name says, else yaml)")
	cmd.Flags().StringVarP(&opts.File, "output", "o", "", "write to this file instead of stdout")
	return cmd
}

// exportFormat is --format, or the format -o FILE's name says, or YAML on
// stdout.
func exportFormat(flag, file string) (string, error) {
	switch name := strings.ToLower(flag); {
	case name == "yml":
		return targets.FormatYAML, nil
	case slices.Contains(targets.ListFormats, name):
		return name, nil
	case flag != "":
		return "", cmdutil.Usagef("--format %q: use %s", flag, strings.Join(targets.ListFormats, ", "))
	case file == "" || file == "-":
		return targets.FormatYAML, nil
	}
	f, err := targets.ListFormat(file)
	if err != nil {
		return "", cmdutil.UsageError{Err: fmt.Errorf("-o %s: %w, or pass --format", file, err)}
	}
	return f, nil
}

func exportRun(opts *ExportOptions) error {
	format, err := exportFormat(opts.Format, opts.File)
	if err != nil {
		return err
	}
	b, err := opts.open()
	if err != nil {
		return err
	}
	defer b.Close()
	list, _, err := storedList(opts.ctx, opts.IO, b, "reading the stored list")
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return fmt.Errorf("no targets stored in %s: nothing to export (`cronless targets import FILE` stores a list)", b.Where)
	}
	importOrder(list)
	es := entries(list)
	list = nil
	if opts.File == "" || opts.File == "-" {
		if err := targets.WriteList(opts.IO.Out, format, es); err != nil {
			return fmt.Errorf("export: %w", err)
		}
		return nil
	}
	if err := writeFileAtomic(opts.File, func(w io.Writer) error { return targets.WriteList(w, format, es) }); err != nil {
		return fmt.Errorf("export to %s: %w", opts.File, err)
	}
	fmt.Fprintf(opts.IO.ErrOut, "cronless: exported %s of %s to %s\n", plural(len(es), "target", "targets"), b.Where, opts.File)
	return nil
}

// writeFileAtomic writes path whole or not at all: into a temporary file
// beside it, renamed over it once written and synced.
func writeFileAtomic(path string, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if err := write(tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
