package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// checkpointVersion is the version of the checkpoint file's format.
const checkpointVersion = 1

// Key says which migration a checkpoint is of: resuming one with another
// key would mix two migrations' choices, so Run refuses it.
type Key struct {
	Stage     string    `json:"stage,omitempty"`
	Region    string    `json:"region,omitempty"`
	FromTable string    `json:"from_table"`
	ToTable   string    `json:"to_table"`
	Since     time.Time `json:"since,omitzero"`
}

func (k Key) equal(o Key) bool {
	return k.Stage == o.Stage && k.Region == o.Region && k.FromTable == o.FromTable &&
		k.ToTable == o.ToTable && k.Since.Equal(o.Since)
}

// Checkpoint is how far a migration got: whether every run was copied and
// the last target ID (in sorted order) whose batch and every batch before
// it were copied. Counters add up what was copied, across restarts.
type Checkpoint struct {
	V   int `json:"v"`
	Key Key `json:"key"`
	// RunsDone: every run item (with its targets) was copied.
	RunsDone bool `json:"runs_done"`
	// LastTarget is the greatest target ID such that it and every target
	// before it were copied ("": none yet).
	LastTarget string `json:"last_target,omitempty"`
	// Done: the migration completed.
	Done bool `json:"done"`
	// Runs, Targets and Results are how many were copied so far.
	Runs      int       `json:"runs"`
	Targets   int       `json:"targets"`
	Results   int       `json:"results"`
	StartedAt time.Time `json:"started_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// LoadCheckpoint reads the checkpoint at path; found is false (and the
// error nil) when there is none.
func LoadCheckpoint(path string) (c Checkpoint, found bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("read checkpoint: %w", err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return Checkpoint{}, false, fmt.Errorf("checkpoint %s: %w", path, err)
	}
	if c.V != checkpointVersion {
		return Checkpoint{}, false, fmt.Errorf("checkpoint %s: version %d, this cronless reads %d", path, c.V, checkpointVersion)
	}
	return c, true, nil
}

// SaveCheckpoint writes c to path atomically (a temporary file renamed
// over it), creating its directory, so that a crash leaves the old
// checkpoint or the new one, never half of one.
func SaveCheckpoint(path string, c Checkpoint) error {
	c.V = checkpointVersion
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("encode checkpoint: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	f, err := os.CreateTemp(dir, filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("save checkpoint: %w", err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return fmt.Errorf("save checkpoint: %w", err)
	}
	return nil
}
