package localstore

// schema creates the adapter's tables and indexes when they are missing. Every
// name starts with "store_" because other adapters (the local queue) share the
// SQLite file.
//
// Timestamps are TEXT in UTC with a fixed width of nine fractional digits
// ("2006-01-02T15:04:05.000000000Z"), so they sort as text in time order,
// compare exactly and stay readable in the sqlite3 shell. Zero times are NULL.
//
// Results are ordered per target by (scheduled_at, run_id): the scheduled
// time first, and the run ID breaks a tie, so that "previous", "next" and
// "latest" do not depend on the order in which results arrive.
var schema = []string{
	// One row per (target, run): the stored result, first write wins.
	`CREATE TABLE IF NOT EXISTS store_results (
		target_id     TEXT    NOT NULL,
		run_id        TEXT    NOT NULL,
		schedule      TEXT    NOT NULL DEFAULT '',
		url           TEXT    NOT NULL DEFAULT '',
		scheduled_at  TEXT    NOT NULL,
		status        TEXT    NOT NULL,
		http_status   INTEGER NOT NULL DEFAULT 0,
		fields        TEXT,
		content_hash  TEXT    NOT NULL DEFAULT '',
		changed       INTEGER NOT NULL DEFAULT 0,
		fetched_at    TEXT    NOT NULL,
		duration_ms   INTEGER NOT NULL DEFAULT 0,
		attempt       INTEGER NOT NULL DEFAULT 0,
		error_kind    TEXT,
		error_message TEXT,
		stored_at     TEXT    NOT NULL,
		PRIMARY KEY (target_id, run_id)
	) WITHOUT ROWID`,
	// A target's results in time order (History, previous and next result).
	`CREATE INDEX IF NOT EXISTS store_results_by_target_time
		ON store_results (target_id, scheduled_at, run_id)`,
	// One run's results by target (store_results_by_run) is created by
	// migration localstore/8, with the columns it covers.
	// Failed results per target (Failed without a run).
	`CREATE INDEX IF NOT EXISTS store_results_failed
		ON store_results (target_id, scheduled_at, run_id) WHERE status = 'failed'`,
	// Changed results by time (Changed).
	`CREATE INDEX IF NOT EXISTS store_results_changed
		ON store_results (scheduled_at) WHERE changed = 1`,

	// One row per run. planned is NULL while the planner's PutRun has not
	// been stored (a result can overtake it).
	`CREATE TABLE IF NOT EXISTS store_runs (
		run_id          TEXT    NOT NULL PRIMARY KEY,
		schedule        TEXT    NOT NULL DEFAULT '',
		scheduled_at    TEXT    NOT NULL,
		planned         INTEGER,
		succeeded       INTEGER NOT NULL DEFAULT 0,
		failed          INTEGER NOT NULL DEFAULT 0,
		created_at      TEXT    NOT NULL,
		first_result_at TEXT,
		last_result_at  TEXT
	) WITHOUT ROWID`,
	`CREATE INDEX IF NOT EXISTS store_runs_by_time
		ON store_runs (scheduled_at, run_id)`,

	// The latest result of each target: a pointer into store_results.
	`CREATE TABLE IF NOT EXISTS store_latest (
		target_id    TEXT NOT NULL PRIMARY KEY,
		run_id       TEXT NOT NULL,
		scheduled_at TEXT NOT NULL
	) WITHOUT ROWID`,

	// Failed, retryable attempts, first write wins per (run, target,
	// attempt). Migration localstore/4 rekeys it by (run, target, message,
	// attempt).
	`CREATE TABLE IF NOT EXISTS store_attempts (
		run_id        TEXT    NOT NULL,
		target_id     TEXT    NOT NULL,
		attempt       INTEGER NOT NULL,
		message_id    TEXT    NOT NULL DEFAULT '',
		at            TEXT,
		error_kind    TEXT    NOT NULL DEFAULT '',
		error_message TEXT    NOT NULL DEFAULT '',
		PRIMARY KEY (run_id, target_id, attempt)
	) WITHOUT ROWID`,
}

// migrations are the schema changes after schema, applied once per file by
// sqlite.Migrate in order (a file created before a change gets it when a
// newer build opens it). Never change a released one: add another.
var migrations = []struct {
	name  string
	stmts []string
}{
	// Conditional requests: a result's validators, and whether the server
	// answered 304 Not Modified.
	{"localstore/2", []string{
		`ALTER TABLE store_results ADD COLUMN etag TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE store_results ADD COLUMN last_modified TEXT NOT NULL DEFAULT ''`,
		`ALTER TABLE store_results ADD COLUMN not_modified INTEGER NOT NULL DEFAULT 0`,
	}},
	// The hash of the whole body, beside the hash of the fields.
	{"localstore/3", []string{
		`ALTER TABLE store_results ADD COLUMN body_hash TEXT NOT NULL DEFAULT ''`,
	}},
	// Attempts are keyed by (run, target, message, attempt): a message
	// replayed from the DLQ is a new message whose receive count starts at
	// 1 again, and its attempts are kept beside the old message's instead
	// of being taken for them. The rows keep their values (rows of one
	// message could not collide before either).
	{"localstore/4", []string{
		`CREATE TABLE store_attempts_4 (
			run_id        TEXT    NOT NULL,
			target_id     TEXT    NOT NULL,
			message_id    TEXT    NOT NULL DEFAULT '',
			attempt       INTEGER NOT NULL,
			at            TEXT,
			error_kind    TEXT    NOT NULL DEFAULT '',
			error_message TEXT    NOT NULL DEFAULT '',
			PRIMARY KEY (run_id, target_id, message_id, attempt)
		) WITHOUT ROWID`,
		`INSERT INTO store_attempts_4 (run_id, target_id, message_id, attempt, at, error_kind, error_message)
			SELECT run_id, target_id, message_id, attempt, at, error_kind, error_message FROM store_attempts`,
		`DROP TABLE store_attempts`,
		`ALTER TABLE store_attempts_4 RENAME TO store_attempts`,
	}},
	// The planned targets of a run: a JSON array of target IDs in plan
	// order, NULL when not recorded (a run planned before, or not yet).
	{"localstore/5", []string{
		`ALTER TABLE store_runs ADD COLUMN targets TEXT`,
	}},
	// The hash of the extract rules a result's fields were extracted with
	// (job.RulesHash); '' for a result stored before (not known).
	{"localstore/6", []string{
		`ALTER TABLE store_results ADD COLUMN rules_hash TEXT NOT NULL DEFAULT ''`,
	}},
	// The fields cut to fit job.MaxFieldsBytes: JSON of job.Result.Truncated,
	// NULL when none was (and for a result stored before).
	{"localstore/7", []string{
		`ALTER TABLE store_results ADD COLUMN truncated TEXT`,
	}},
	// A stored target list (cronless targets import) and the plan parts of
	// the runs planned from it in shards (store.TargetList).
	{"localstore/8", []string{
		// One row per target: its own settings (targets.Entry), its shard
		// in its schedule's layout and its rank among its schedule's
		// targets of its host. timeout_ns is 0 and user_agent and extract
		// '' when not set; robots is NULL when not set; rules is the JSON
		// of the inline rules, NULL when none. Rows are kept in shard
		// order, so that a shard's targets are read as one range of the
		// table (ShardTargets) rather than one lookup each; IDs are unique
		// by an index (StoredTarget, and a target moved to another shard
		// is moved, not copied).
		`CREATE TABLE store_targets (
			schedule   TEXT    NOT NULL,
			shard      INTEGER NOT NULL,
			id         TEXT    NOT NULL,
			rank       INTEGER NOT NULL,
			url        TEXT    NOT NULL,
			timeout_ns INTEGER NOT NULL DEFAULT 0,
			user_agent TEXT    NOT NULL DEFAULT '',
			robots     INTEGER,
			extract    TEXT    NOT NULL DEFAULT '',
			rules      TEXT,
			PRIMARY KEY (schedule, shard, id)
		) WITHOUT ROWID`,
		`CREATE UNIQUE INDEX store_targets_by_id ON store_targets (id)`,
		// The layout of each schedule with stored targets: JSON of
		// targets.Layout.
		`CREATE TABLE store_target_layouts (
			schedule TEXT NOT NULL PRIMARY KEY,
			layout   TEXT NOT NULL
		) WITHOUT ROWID`,
		// What each shard of a run planned, first write wins: its job
		// count and its target IDs in plan order, joined by line breaks
		// (store.CheckPlanPart allows none in an ID), '' for none.
		`CREATE TABLE store_plan_parts (
			run_id  TEXT    NOT NULL,
			shard   INTEGER NOT NULL,
			planned INTEGER NOT NULL,
			targets TEXT    NOT NULL,
			PRIMARY KEY (run_id, shard)
		) WITHOUT ROWID`,
		// How many plan parts a run expects (store.Run.Shards).
		`ALTER TABLE store_runs ADD COLUMN shards INTEGER NOT NULL DEFAULT 0`,
		// One run's results by target (RunResults, Failed), now with the
		// validators, so that a shard's previous validators are read from
		// the index alone (ShardPrevious): a result's row holds its fields
		// (kilobytes, past the page into overflow pages), and reading ten
		// thousand of them by key took ten times as long.
		`DROP INDEX IF EXISTS store_results_by_run`,
		`CREATE INDEX store_results_by_run ON store_results
			(run_id, target_id, scheduled_at, url, status, etag, last_modified, content_hash, rules_hash)`,
	}},
	// One run's results by target, now with what RunEntries reads too
	// (changed, stored_at), so that `cronless runs show` lists a run of a
	// million results from the index alone, without reading each row and
	// its fields' overflow pages. Rebuilding it reads every result once.
	{"localstore/9", []string{
		`DROP INDEX IF EXISTS store_results_by_run`,
		`CREATE INDEX store_results_by_run ON store_results
			(run_id, target_id, scheduled_at, url, status, etag, last_modified, content_hash, rules_hash, changed, stored_at)`,
	}},
}
