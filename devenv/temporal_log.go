package devenv

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// serverLogger adapts an slog.Logger to the Temporal server's log.Logger,
// keeping only warnings and errors: the server is very chatty at info level.
// Panic and Fatal are logged as errors and do not panic or exit, as the
// Temporal CLI's dev server does.
type serverLogger struct {
	l        *slog.Logger
	with     []tag.Tag    // from With, converted only when something is logged
	stopping *atomic.Bool // set by Stop: the server warns and errs about every lost connection on shutdown
}

var (
	_ log.Logger     = serverLogger{}
	_ log.WithLogger = serverLogger{}
)

// newServerLogger returns the server's logger; once stopping is set it logs
// nothing.
func newServerLogger(l *slog.Logger, stopping *atomic.Bool) log.Logger {
	if l == nil {
		return log.NewNoopLogger()
	}
	return serverLogger{l: l, stopping: stopping}
}

func (s serverLogger) Debug(string, ...tag.Tag)           {}
func (s serverLogger) Info(string, ...tag.Tag)            {}
func (s serverLogger) Warn(msg string, tags ...tag.Tag)   { s.log(slog.LevelWarn, msg, tags) }
func (s serverLogger) Error(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) Panic(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }
func (s serverLogger) Fatal(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }

func (s serverLogger) With(tags ...tag.Tag) log.Logger {
	with := make([]tag.Tag, 0, len(s.with)+len(tags))
	return serverLogger{l: s.l, with: append(append(with, s.with...), tags...), stopping: s.stopping}
}

func (s serverLogger) log(lvl slog.Level, msg string, tags []tag.Tag) {
	ctx := context.Background()
	if s.stopping.Load() || !s.l.Enabled(ctx, lvl) {
		return
	}
	attrs := make([]slog.Attr, 0, len(s.with)+len(tags))
	for _, t := range s.with {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	for _, t := range tags {
		attrs = append(attrs, slog.Any(t.Key(), t.Value()))
	}
	s.l.LogAttrs(ctx, lvl, msg, attrs...)
}
