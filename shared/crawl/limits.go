package crawl

import (
	"time"

	"github.com/cronless/cronless/shared/job"
)

// Defaults for the zero values of Options.
const (
	DefaultUserAgent             = job.DefaultUserAgent
	DefaultTimeout               = 10 * time.Second
	DefaultConnectTimeout        = 5 * time.Second
	DefaultTLSHandshakeTimeout   = 5 * time.Second
	DefaultResponseHeaderTimeout = 10 * time.Second
	DefaultMaxBodyBytes          = 5 << 20
	DefaultMaxRedirects          = 5
	DefaultHostConcurrency       = 2
)

// maxHeaderBytes is the most response header bytes the crawler reads.
const maxHeaderBytes = 256 << 10

// The ranges the worker's HOST_CONCURRENCY, HOST_DELAY and MAX_BODY_BYTES
// (and the CLI's flags for them) accept.
const (
	MaxHostConcurrency = job.MaxHostConcurrency
	MaxHostDelay       = time.Minute
	MinMaxBodyBytes    = 64 << 10
	MaxMaxBodyBytes    = 64 << 20
)
