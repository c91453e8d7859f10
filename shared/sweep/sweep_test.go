package sweep_test

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/apitest"
	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sweep"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var orgs = []string{"acme", "globex", "initech"}

// seedMany creates n processes through the store, 32 at a time, each made
// by mk(i).
func seedMany(t *testing.T, s identification.Store, n int, mk func(i int) *identification.Identification) []*identification.Identification {
	t.Helper()
	out := make([]*identification.Identification, n)
	var wg sync.WaitGroup
	var failed atomic.Value
	next := atomic.Int64{}
	for w := 0; w < 32; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				out[i] = mk(i)
				if err := s.Create(context.Background(), out[i], nil); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("seed: %v", err)
	}
	return out
}

func process(org string, status identification.Status, created, expires time.Time) *identification.Identification {
	id := uuid.Must(uuid.NewV7()).String()
	i := &identification.Identification{
		ID: id, OrgID: org, Type: identification.TypeOTP, Status: status,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: expires,
		Actor: identification.Actor{Name: "Sweep"}, Channel: &identification.Channel{Type: "SMS", External: true}, Version: 1,
	}
	if status.Final() {
		i.EndedAt = &created
	}
	return i
}

// states reads every item of the table with a separate, uncounted client
// (the test may scan; the code under test may not).
func states(t *testing.T, e enginetest.Engine, table string) map[string]struct{ status, version string } {
	t.Helper()
	client, _ := enginetest.NewClientWithCounter(e)
	out := map[string]struct{ status, version string }{}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("scan: %v", err)
		}
		for _, it := range page.Items {
			out[str(it["id"])] = struct{ status, version string }{str(it["status"]), num(it["version"])}
		}
	}
	return out
}

// TestOnePassExpiresExactlyTheDueOnes: of 2,000 processes, half due, the
// open due ones are expired exactly once and nothing else is touched; pages
// of 25 make each of the 16 shards several pages.
func TestOnePassExpiresExactlyTheDueOnes(t *testing.T) {
	const n = 2000
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		client, table, counter := enginetest.NewTable(t, e)
		store := dynamostore.New(client, dynamostore.Options{Table: table, Shards: 16})
		now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
		// Half due (expiry at or before now), half not; statuses vary, and
		// ended or completed processes past their expiry must be left alone.
		statuses := []identification.Status{identification.StatusCreated, identification.StatusInProgress, identification.StatusCreated,
			identification.StatusInProgress, identification.StatusCompleted, identification.StatusCancelled, identification.StatusClosed}
		seeded := seedMany(t, store, n, func(i int) *identification.Identification {
			expires := now.Add(time.Duration(i%97+1) * time.Minute)
			if i%2 == 0 {
				expires = now.Add(-time.Duration(i%97) * time.Minute)
			}
			return process(orgs[i%3], statuses[i%len(statuses)], now.Add(-2*time.Hour), expires)
		})
		wantExpired := 0
		for _, i := range seeded {
			if i.Status.Open() && !i.ExpiresAt.After(now) {
				wantExpired++
			}
		}

		counter.Reset()
		res := sweep.Run(t.Context(), store, store, now, sweep.Options{PageSize: 25}, nil)
		if res.Expired != int64(wantExpired) || res.Found != int64(wantExpired) || res.LostRaces != 0 || res.Errors != 0 || !res.Complete {
			t.Fatalf("first pass: %s; want expired=found=%d, no races, no errors, complete", res, wantExpired)
		}
		got := states(t, e, table)
		for _, i := range seeded {
			st := got[i.ID]
			due := i.Status.Open() && !i.ExpiresAt.After(now)
			switch {
			case due && (st.status != "EXPIRED" || st.version != "2"):
				t.Fatalf("%s (%s, due): got %s v%s, want EXPIRED v2", i.ID, i.Status, st.status, st.version)
			case !due && (st.status != string(i.Status) || st.version != "1"):
				t.Fatalf("%s (%s, not due): got %s v%s, want untouched", i.ID, i.Status, st.status, st.version)
			}
		}
		second := sweep.Run(t.Context(), store, store, now, sweep.Options{}, nil)
		if second.Found != 0 || second.Expired != 0 || !second.Complete {
			t.Errorf("second pass: %s; want nothing found", second)
		}
		ops := counter.ByOperation()
		if ops["Scan"] != 0 || len(ops) != 2 || ops["Query"] < 32 || ops["UpdateItem"] != wantExpired {
			t.Errorf("calls: %v; want only Query (each shard, both passes) and %d UpdateItem, never Scan", ops, wantExpired)
		}
	})
}

func TestSweepRacesAdminActions(t *testing.T) {
	const n = 200
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		env := apitest.New(t, e)
		// The sweep's clock runs a minute ahead of the API's: for the API the
		// processes are still open, for the sweep they are due. Both race
		// for every one of them.
		apiNow := env.Clock.Now()
		sweepNow := apiNow.Add(time.Minute)
		seeded := seedMany(t, env.Store, n, func(i int) *identification.Identification {
			return process("acme", identification.StatusCreated, apiNow.Add(-time.Hour), apiNow.Add(30*time.Second))
		})
		token := env.AdminToken(t, "acme")
		admin := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for k, i := range seeded {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				req := apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp/" + i.ID + "/close", Token: token}
				if k%2 == 0 {
					req = apitest.Request{Method: http.MethodPost, Path: "/v1/orgs/acme/identifications/otp/" + i.ID + "/cancel", Body: `{"reason":"race"}`, Token: token}
				}
				admin[k] = env.Do(t, req).Status
			}()
		}
		var res sweep.Result
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			res = sweep.Run(context.Background(), env.Store, env.Store, sweepNow, sweep.Options{Writers: 8, PageSize: 25}, nil)
		}()
		close(start)
		wg.Wait()

		adminWins := 0
		got := states(t, e, env.Table)
		for k, i := range seeded {
			st := got[i.ID]
			if st.version != "2" {
				t.Errorf("%s: version %s, want 2 (exactly one change)", i.ID, st.version)
			}
			switch admin[k] {
			case http.StatusNoContent:
				adminWins++
				want := map[bool]string{true: "CANCELLED", false: "CLOSED"}[k%2 == 0]
				if st.status != want {
					t.Errorf("%s: admin won but status is %s, want %s", i.ID, st.status, want)
				}
			case http.StatusConflict:
				if st.status != "EXPIRED" {
					t.Errorf("%s: admin lost but status is %s, want EXPIRED", i.ID, st.status)
				}
			default:
				t.Errorf("%s: admin got %d", i.ID, admin[k])
			}
		}
		if res.Errors != 0 || res.Expired+int64(adminWins) != n || res.LostRaces > int64(adminWins) || res.Found != res.Expired+res.LostRaces {
			t.Errorf("sweep %s with %d admin wins: want expired + admin wins = %d, lost races <= admin wins, no errors", res, adminWins, n)
		}
		t.Logf("%s: %s, admin wins %d", e.Name, res, adminWins)
	})
}

func TestDeadlineStopsThePassCleanly(t *testing.T) {
	const n = 1000
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		client, table, _ := enginetest.NewTable(t, e)
		store := dynamostore.New(client, dynamostore.Options{Table: table, Shards: 16})
		now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
		seedMany(t, store, n, func(i int) *identification.Identification {
			return process(orgs[i%3], identification.StatusInProgress, now.Add(-time.Hour), now.Add(-time.Minute))
		})
		// 100 ms to start writes, and each write its margin to finish: the
		// margin is generous, as a loaded engine may take a while.
		ctx, cancel := context.WithTimeout(t.Context(), 2100*time.Millisecond)
		defer cancel()
		first := sweep.Run(ctx, store, store, now, sweep.Options{Margin: 2 * time.Second}, nil)
		if first.Complete || first.Expired >= n || first.Errors != 0 {
			t.Fatalf("short pass: %s; want incomplete, some left, no errors", first)
		}
		second := sweep.Run(t.Context(), store, store, now, sweep.Options{}, nil)
		if !second.Complete || first.Expired+second.Expired != n || second.Errors != 0 || second.LostRaces != 0 {
			t.Fatalf("next pass: %s after %s; want the remaining %d expired", second, first, n-first.Expired)
		}
		for id, st := range states(t, e, table) {
			if st.status != "EXPIRED" || st.version != "2" {
				t.Fatalf("%s: %s v%s, want EXPIRED v2 (expired exactly once)", id, st.status, st.version)
			}
		}
		t.Logf("%s: %s, then %s", e.Name, first, second)
	})
}

func TestResultString(t *testing.T) {
	r := sweep.Result{Found: 3, Expired: 2, LostRaces: 1, Complete: true, Duration: 1500 * time.Millisecond}
	if got, want := r.String(), "expired=2 found=3 lost_races=1 errors=0 complete=true duration=1.5s"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
