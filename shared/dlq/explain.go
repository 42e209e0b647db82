package dlq

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"

	"golang.org/x/sync/errgroup"
)

// explainer fills in LastError from the store, once per (run, target).
type explainer struct {
	h     History
	cache map[[2]string]*ErrorInfo
}

func (e *explainer) explain(ctx context.Context, ls []*Letter) error {
	if e.h == nil {
		return nil
	}
	var (
		g    errgroup.Group
		mu   sync.Mutex
		errs []error
		want = map[[2]string]bool{}
	)
	g.SetLimit(parallel)
	for _, l := range ls {
		key := [2]string{l.RunID, l.TargetID}
		if _, ok := e.cache[key]; ok || l.LastError != nil || l.RunID == "" || l.TargetID == "" || want[key] {
			continue
		}
		want[key] = true
	}
	found := make(map[[2]string]*ErrorInfo, len(want))
	for key := range want {
		g.Go(func() error {
			as, err := e.h.Attempts(ctx, key[0], key[1])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("error history of run %s, target %s: %w", key[0], key[1], err))
				return nil
			}
			var info *ErrorInfo
			if n := len(as); n > 0 {
				a := as[n-1]
				info = &ErrorInfo{Kind: a.Error.Kind, Message: a.Error.Message, Attempt: a.Attempt, At: a.At, Source: SourceHistory}
			}
			found[key] = info
			return nil
		})
	}
	_ = g.Wait() // never an error: every lookup's is joined below
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	maps.Copy(e.cache, found)
	for _, l := range ls {
		if l.LastError == nil {
			l.LastError = e.cache[[2]string{l.RunID, l.TargetID}]
		}
	}
	return nil
}
