package worker

import (
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

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

// crawledLevel is the level of the "crawled" log line: a warning when
// fields were cut, which a person should know (the result is ok, but not
// every value was kept), so that it shows at the default level.
func crawledLevel(t map[string]job.Truncation) zapcore.Level {
	if len(t) > 0 {
		return zapcore.WarnLevel
	}
	return zapcore.InfoLevel
}
