package worker

import (
	"go.uber.org/zap"

	"github.com/cronless/cronless/shared/job"
)

// truncatedLog is the "truncated" field of the "crawled" log line: each
// field cut to fit job.MaxFieldsBytes with its sizes before and after the
// cut (JSON encoders sort its keys), or nothing when no field was cut.
func truncatedLog(t map[string]job.Truncation) zap.Field {
	if len(t) == 0 {
		return zap.Skip()
	}
	return zap.Reflect("truncated", t)
}
