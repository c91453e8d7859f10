// Package sweep expires open identifications whose expiry has passed. It
// walks every shard of the open-process index page by page, with bounded
// concurrency, and expires each process with a conditional write that
// re-checks status and expiry, so it loses gracefully to any concurrent
// action. It watches its deadline and stops in time, leaving the rest for
// the next run; running it twice changes nothing the second time.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Source lists the open processes that are due, shard by shard.
type Source interface {
	// Shards is the number of index partitions.
	Shards() int
	// Due returns one page of due processes in shard and an opaque cursor
	// for the next page (nil after the last).
	Due(ctx context.Context, shard int, now time.Time, limit int32, cursor any) ([]identification.Ref, any, error)
}

// Expirer applies the expire transition (identification.Store does).
type Expirer interface {
	Apply(ctx context.Context, ref identification.Ref, e identification.Effect) (identification.Result, error)
}

// Options tunes a pass.
type Options struct {
	// ShardWorkers is how many shards are read at once (default 4).
	ShardWorkers int
	// Writers is how many expire writes are in flight at once (default 16).
	Writers int
	// PageSize is the Query page size (default 100).
	PageSize int32
	// Margin is the time kept before the context's deadline: no new page or
	// write starts after deadline-Margin (default 2s; Lambda needs time to
	// log and return).
	Margin time.Duration
}

func (o Options) withDefaults() Options {
	if o.ShardWorkers <= 0 {
		o.ShardWorkers = 4
	}
	if o.Writers <= 0 {
		o.Writers = 16
	}
	if o.PageSize <= 0 {
		o.PageSize = 100
	}
	if o.Margin <= 0 {
		o.Margin = 2 * time.Second
	}
	return o
}

// Result summarises a pass.
type Result struct {
	// Found is how many due processes the index listed and the pass tried
	// to expire (Expired + LostRaces + Errors).
	Found int64 `json:"found"`
	// Expired is how many this pass moved to EXPIRED.
	Expired int64 `json:"expired"`
	// LostRaces is how many a concurrent action ended (or removed) first.
	LostRaces int64 `json:"lost_races"`
	// Errors is how many failed for another reason (retried next run).
	Errors int64 `json:"errors"`
	// Complete is false when the pass stopped for its deadline.
	Complete bool          `json:"complete"`
	Duration time.Duration `json:"-"`
}

// String renders the summary as `make sweep` prints it.
func (r Result) String() string {
	return fmt.Sprintf("expired=%d found=%d lost_races=%d errors=%d complete=%v duration=%s",
		r.Expired, r.Found, r.LostRaces, r.Errors, r.Complete, r.Duration.Round(time.Millisecond))
}

// Run performs one pass at now and logs one structured summary.
func Run(ctx context.Context, src Source, exp Expirer, now time.Time, opts Options, logger *slog.Logger) Result {
	opts = opts.withDefaults()
	start := time.Now()
	var res struct{ found, expired, lost, errs atomic.Int64 }
	var stopped atomic.Bool

	// timeLeft reports whether new work may start.
	timeLeft := func() bool {
		if ctx.Err() != nil {
			stopped.Store(true)
			return false
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < opts.Margin {
			stopped.Store(true)
			return false
		}
		return true
	}

	expire, err := identification.Plan(identification.Command{Action: identification.ActionExpire, At: now,
		By: identification.Caller{Kind: identification.CallerSystem, Sub: "expire-sweep"}})
	if err != nil {
		panic(err) // the lifecycle always knows expire
	}
	writes := make(chan identification.Ref)
	var writers sync.WaitGroup
	for w := 0; w < opts.Writers; w++ {
		writers.Add(1)
		go func() {
			defer writers.Done()
			for ref := range writes {
				// A write that started before deadline-Margin has Margin to
				// finish: the pass's deadline stops new work, not work in
				// flight, which would otherwise count as errors on a slow
				// store. Cancelling the pass still stops it.
				wctx, cancel := writeContext(ctx, opts.Margin)
				_, err := exp.Apply(wctx, ref, expire)
				cancel()
				switch kind := identification.KindOf(err); {
				case err == nil:
					res.expired.Add(1)
				case kind == identification.KindConflict || kind == identification.KindNotFound:
					res.lost.Add(1)
				default:
					res.errs.Add(1)
					if logger != nil && !errors.Is(err, context.DeadlineExceeded) {
						logger.WarnContext(ctx, "expire failed", slog.String("org", ref.Org), slog.String("id", ref.ID), slog.String("error", err.Error()))
					}
				}
			}
		}()
	}

	shards := make(chan int)
	var readers sync.WaitGroup
	for w := 0; w < opts.ShardWorkers; w++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for shard := range shards {
				var cursor any
				for timeLeft() {
					refs, next, err := src.Due(ctx, shard, now, opts.PageSize, cursor)
					if err != nil {
						res.errs.Add(1)
						if logger != nil {
							logger.WarnContext(ctx, "query due processes failed", slog.Int("shard", shard), slog.String("error", err.Error()))
						}
						break
					}
					for _, ref := range refs {
						if !timeLeft() {
							break
						}
						res.found.Add(1)
						writes <- ref
					}
					if next == nil {
						break
					}
					cursor = next
				}
			}
		}()
	}
	for shard := 0; shard < src.Shards() && timeLeft(); shard++ {
		shards <- shard
	}
	close(shards)
	readers.Wait()
	close(writes)
	writers.Wait()

	r := Result{
		Found: res.found.Load(), Expired: res.expired.Load(), LostRaces: res.lost.Load(), Errors: res.errs.Load(),
		Complete: !stopped.Load(), Duration: time.Since(start),
	}
	if logger != nil {
		logger.InfoContext(ctx, "sweep",
			slog.Int64("found", r.Found), slog.Int64("expired", r.Expired), slog.Int64("lost_races", r.LostRaces),
			slog.Int64("errors", r.Errors), slog.Bool("complete", r.Complete), slog.Int64("duration_ms", r.Duration.Milliseconds()))
	}
	return r
}

// writeContext is the context of one expire write: the pass's, but a
// deadline of the pass leaves the write margin to finish; cancelling the
// pass still cancels it.
func writeContext(ctx context.Context, margin time.Duration) (context.Context, context.CancelFunc) {
	detached := context.WithoutCancel(ctx)
	var wctx context.Context
	var cancel context.CancelFunc
	if _, ok := ctx.Deadline(); ok {
		wctx, cancel = context.WithTimeout(detached, margin)
	} else {
		wctx, cancel = context.WithCancel(detached)
	}
	stop := context.AfterFunc(ctx, func() {
		if !errors.Is(context.Cause(ctx), context.DeadlineExceeded) {
			cancel()
		}
	})
	return wctx, func() { stop(); cancel() }
}
