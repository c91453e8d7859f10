// Command backfill gives every process in the table the listing keys this
// release writes and reads: l_org (the organisation's partition, in the
// process's shard) and ls where it has none, and removes the l_org_status
// of the release before (whose list-by-org-status index is gone). It is a
// step of moving a deployment to the keys-only listing indexes
// (docs/deployment.md, "Moving to the keys-only listing indexes"):
//
//	TABLE_NAME=<table> AWS_REGION=<region> go run ./cmd/backfill [-segments 4] [-rate 200] [-state backfill-state.json]
//
// It reads the table as the functions do (TABLE_NAME, AWS_REGION, the AWS
// credentials in the environment; DYNAMODB_ENDPOINT for a local engine),
// scans it in -segments parallel segments and, for each process whose keys
// are not already this release's, makes one conditional UpdateItem that
// sets (and removes) only those attributes (dynamostore.Store.BackfillListKeys), at most
// -rate a second. It is idempotent: a process that has its keys is not
// written, so a pass can run again at the cost of its scan. It is
// resumable: after each page of each segment it records where the segment
// goes on in the -state file, and a pass started with the same file goes on
// from there. It prints each segment's counts as it goes and the totals at
// the end, and exits 1 on an error (run it again: it goes on).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/dynamostore"
)

func main() {
	segments := flag.Int("segments", 4, "parallel scan segments (1 to 64)")
	rate := flag.Int("rate", 200, "most UpdateItem calls a second, all segments together (0: no limit)")
	state := flag.String("state", "backfill-state.json", "file recording each segment's progress, to go on from after a stop (\"\": none)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := app.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "backfill:", err)
		os.Exit(2)
	}
	opts := options{Segments: *segments, Rate: *rate, State: *state}
	if _, err := backfill(ctx, app.NewDynamoDB(cfg), cfg.TableName, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "backfill:", err)
		os.Exit(1)
	}
}

// options are a pass's flags.
type options struct {
	Segments int
	Rate     int
	State    string
}

// progress is the -state file: for each segment of a pass over a table,
// whether it is done and, if not, the key its scan goes on from.
type progress struct {
	Table    string              `json:"table"`
	Segments int                 `json:"segments"`
	Done     []bool              `json:"done"`
	Next     []map[string]string `json:"next"`
}

// backfill runs one pass over table and answers its totals.
func backfill(ctx context.Context, client *dynamodb.Client, table string, opts options, out io.Writer) (dynamostore.BackfillCounts, error) {
	var total dynamostore.BackfillCounts
	if opts.Segments < 1 || opts.Segments > 64 {
		return total, fmt.Errorf("-segments must be from 1 to 64, got %d", opts.Segments)
	}
	p, err := loadProgress(opts.State, table, opts.Segments)
	if err != nil {
		return total, err
	}
	var pace func(context.Context) error
	if opts.Rate > 0 {
		tick := time.NewTicker(time.Second / time.Duration(opts.Rate))
		defer tick.Stop()
		pace = func(ctx context.Context) error {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-tick.C:
				return nil
			}
		}
	}
	store := dynamostore.New(client, dynamostore.Options{Table: table})
	var mu sync.Mutex
	counts := make([]dynamostore.BackfillCounts, opts.Segments)
	errs := make([]error, opts.Segments)
	var wg sync.WaitGroup
	for seg := range opts.Segments {
		if p.Done[seg] {
			fmt.Fprintf(out, "segment %d/%d: done in an earlier pass\n", seg+1, opts.Segments)
			continue
		}
		start := fromKey(p.Next[seg])
		wg.Go(func() {
			counts[seg], errs[seg] = store.BackfillListKeys(ctx, dynamostore.Backfill{
				Segment: seg, Segments: opts.Segments, Start: start, BeforeWrite: pace,
				AfterPage: func(next map[string]types.AttributeValue, c dynamostore.BackfillCounts) error {
					mu.Lock()
					defer mu.Unlock()
					key, err := toKey(next)
					if err != nil {
						return err
					}
					p.Next[seg], p.Done[seg] = key, next == nil
					fmt.Fprintf(out, "segment %d/%d: %s\n", seg+1, opts.Segments, c)
					return saveProgress(opts.State, p)
				},
			})
		})
	}
	wg.Wait()
	for _, c := range counts {
		total.Scanned += c.Scanned
		total.Written += c.Written
		total.Current += c.Current
		total.Gone += c.Gone
	}
	fmt.Fprintf(out, "this pass: %s\n", total)
	if err := errors.Join(errs...); err != nil {
		return total, fmt.Errorf("%w (run it again: it goes on from where each segment stopped)", err)
	}
	if opts.State != "" {
		fmt.Fprintf(out, "every segment is done; %s records a finished pass: remove it to run another\n", opts.State)
	}
	return total, nil
}

// loadProgress reads the state file, or starts a pass when there is none.
func loadProgress(path, table string, segments int) (*progress, error) {
	fresh := &progress{Table: table, Segments: segments, Done: make([]bool, segments), Next: make([]map[string]string, segments)}
	if path == "" {
		return fresh, nil
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return fresh, nil
	}
	if err != nil {
		return nil, err
	}
	var p progress
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p.Table != table || p.Segments != segments || len(p.Done) != segments || len(p.Next) != segments {
		return nil, fmt.Errorf("%s records a pass over table %s in %d segments, not %s in %d: remove it, or run with its -segments",
			path, p.Table, p.Segments, table, segments)
	}
	return &p, nil
}

// saveProgress writes p to path whole (a new file renamed over the old).
func saveProgress(path string, p *progress) error {
	if path == "" {
		return nil
	}
	raw, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// toKey and fromKey convert a scan's key (the table's pk and sk, strings)
// to and from the state file's form.
func toKey(key map[string]types.AttributeValue) (map[string]string, error) {
	if len(key) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(key))
	for k, v := range key {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("scan key attribute %s is not a string", k)
		}
		out[k] = s.Value
	}
	return out, nil
}

func fromKey(key map[string]string) map[string]types.AttributeValue {
	if len(key) == 0 {
		return nil
	}
	out := make(map[string]types.AttributeValue, len(key))
	for k, v := range key {
		out[k] = &types.AttributeValueMemberS{Value: v}
	}
	return out
}
