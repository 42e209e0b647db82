package logs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"gopkg.in/natefinch/lumberjack.v2"

	"github.com/cronless/cronless/shared/obs"
)

// The local log file's bounds, by default: the newest ~50 MiB are kept.
const (
	DefaultMaxMiB  = 10 // a file is rotated when it would grow past this
	DefaultBackups = 4  // rotated files kept beside the current one
)

// current is the name of the file being written in the logs directory;
// lumberjack names the rotated ones current's stem plus a timestamp.
const current = "cronless.jsonl"

// Dir is the directory of the log records of the local backend at db.
func Dir(db string) string { return db + ".logs" }

// FileOptions bound the local log file; zero fields mean the defaults.
type FileOptions struct {
	MaxMiB  int
	Backups int
}

// NewFile returns the size-bounded log file in dir (created on the first
// write): at most MaxMiB × (Backups + 1) MiB are kept. Close it when done.
// Processes writing the same directory at once (run and invoke) append to
// the same file; only a rotation might then lose a few lines.
func NewFile(dir string, o FileOptions) *lumberjack.Logger {
	if o.MaxMiB <= 0 {
		o.MaxMiB = DefaultMaxMiB
	}
	if o.Backups <= 0 {
		o.Backups = DefaultBackups
	}
	return &lumberjack.Logger{Filename: filepath.Join(dir, current), MaxSize: o.MaxMiB, MaxBackups: o.Backups}
}

// Tee returns log writing its records to w too, as the JSON lines the
// functions write on Lambda, at level and above whatever log's own level.
func Tee(log *zap.Logger, w io.Writer, level zapcore.Level) *zap.Logger {
	file := obs.New(w, obs.JSON, level).Core()
	return log.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return zapcore.NewTee(c, file) }))
}

// ErrNoLogs is returned by Tail.Poll when the directory does not exist.
var ErrNoLogs = errors.New("no local logs")

// Tail reads the records of a logs directory, and on each later Poll the
// records written since, across rotations.
type Tail struct {
	Dir     string
	offsets map[string]int64 // by file name: the bytes read, up to a newline
}

// Poll returns the records written since the last Poll (all of them the
// first time) that f keeps, in time order.
func (t *Tail) Poll(f Filter) ([]Record, error) {
	entries, err := os.ReadDir(t.Dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w in %s", ErrNoLogs, t.Dir)
	}
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	first := t.offsets == nil
	if first {
		t.offsets = map[string]int64{}
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".jsonl") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, n := range names {
		if _, seen := t.offsets[n]; !seen && !first && n != current {
			// A rotated file is what current was: read it on from where
			// current was read to, and current from its start.
			t.offsets[n], t.offsets[current] = t.offsets[current], 0
		}
	}
	var out []Record
	for _, n := range names {
		rs, err := t.read(n, f)
		if err != nil {
			return nil, err
		}
		out = append(out, rs...)
	}
	Sort(out)
	return out, nil
}

func (t *Tail) read(name string, f Filter) ([]Record, error) {
	fh, err := os.Open(filepath.Join(t.Dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // rotated away (removed) since it was listed
	}
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	defer fh.Close()
	off := t.offsets[name]
	if st, err := fh.Stat(); err == nil && st.Size() < off {
		off = 0 // a new file of that name
	}
	if _, err := fh.Seek(off, io.SeekStart); err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	b, err := io.ReadAll(fh)
	if err != nil {
		return nil, fmt.Errorf("logs: %w", err)
	}
	end := bytes.LastIndexByte(b, '\n') + 1 // a line being written is read next time
	t.offsets[name] = off + int64(end)
	var out []Record
	for line := range bytes.Lines(b[:end]) {
		r, err := Parse(line)
		if err != nil {
			continue // a line torn by a crash
		}
		if f.Match(r) {
			out = append(out, r)
		}
	}
	return out, nil
}
