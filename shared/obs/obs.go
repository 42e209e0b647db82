// Package obs builds the zap loggers of cronless: JSON lines for Lambda and
// for pipes, human-readable console output for a person at a terminal.
//
// Field names are shared by every component so logs can be joined: run_id,
// target_id, message_id (see the Field helpers).
package obs

import (
	"context"
	"io"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Format selects how log lines look.
type Format int

// The log formats.
const (
	// JSON writes one JSON object per line (Lambda, CloudWatch, pipes).
	JSON Format = iota
	// Console writes short human-readable lines (a terminal).
	Console
)

// New returns a logger writing to w in the given format at level.
func New(w io.Writer, format Format, level zapcore.Level) *zap.Logger {
	var enc zapcore.Encoder
	switch format {
	case Console:
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05.000")
		cfg.EncodeLevel = zapcore.CapitalColorLevelEncoder
		cfg.EncodeCaller = nil
		enc = zapcore.NewConsoleEncoder(cfg)
	default:
		cfg := zap.NewProductionEncoderConfig()
		cfg.TimeKey = "time"
		cfg.EncodeTime = zapcore.RFC3339NanoTimeEncoder
		cfg.EncodeDuration = zapcore.MillisDurationEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	}
	core := zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), level)
	return zap.New(core)
}

// RunID, TargetID and MessageID are the correlation fields every component logs.
func RunID(id string) zap.Field { return zap.String("run_id", id) }

// TargetID is the target_id correlation field.
func TargetID(id string) zap.Field { return zap.String("target_id", id) }

// MessageID is the message_id correlation field.
func MessageID(id string) zap.Field { return zap.String("message_id", id) }

type loggerKey struct{}

// WithLogger returns a context carrying l, for the code it is passed to
// (the Lambda wrapper puts a logger with the request ID there).
func WithLogger(ctx context.Context, l *zap.Logger) context.Context {
	return context.WithValue(ctx, loggerKey{}, l)
}

// FromContext returns the logger in ctx, or def when there is none.
func FromContext(ctx context.Context, def *zap.Logger) *zap.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*zap.Logger); ok {
		return l
	}
	return def
}
