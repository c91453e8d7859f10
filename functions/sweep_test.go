package functions_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/app"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sweep"
)

// TestTemplateSweepFunction proves the expire-sweep function is scheduled by
// the SweepSchedule parameter (every 5 minutes by default) and may only
// query the open-process index and update the table.
func TestTemplateSweepFunction(t *testing.T) {
	tmpl := mustWiredTemplate(t)
	var sweepFn *function
	for _, f := range mustFunctions(t, tmpl) {
		if f.Name == app.SweepName {
			sweepFn = &f
		}
	}
	if sweepFn == nil {
		t.Fatalf("template has no function with CodeUri %s%s", codeURIPrefix, app.SweepName)
	}
	if len(sweepFn.Fn.Events) != 1 {
		t.Fatalf("%s has %d events, want exactly one Schedule", sweepFn.LogicalID, len(sweepFn.Fn.Events))
	}
	for name, ev := range sweepFn.Fn.Events {
		if ev.Type != "Schedule" || ev.Properties == nil || ev.Properties.ScheduleEvent == nil {
			t.Fatalf("event %s is %s, want Schedule", name, ev.Type)
		}
		if got := ev.Properties.ScheduleEvent.Schedule; got != "rate(5 minutes)" {
			t.Errorf("schedule (SweepSchedule's default) = %q, want rate(5 minutes)", got)
		}
	}
	actions, resources := mustPolicy(t, *sweepFn)
	if want := []string{"dynamodb:Query", "dynamodb:UpdateItem"}; !slices.Equal(actions, want) {
		t.Errorf("%s grants %v, want exactly %v", sweepFn.LogicalID, actions, want)
	}
	want := []string{tableARN, tableARN + "/index/" + dynamostore.OpenIndex}
	slices.Sort(want)
	if !slices.Equal(resources, want) {
		t.Errorf("%s grants on %v, want %v", sweepFn.LogicalID, resources, want)
	}
}

// TestSweepEventThroughItsFunction runs events/expire-sweep.json through the
// same handler value the function's main starts, against a real engine.
func TestSweepEventThroughItsFunction(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "events", app.SweepName+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var ev events.EventBridgeEvent
	if err := json.Unmarshal(b, &ev); err != nil || ev.DetailType != "Scheduled Event" || ev.Source != "aws.events" {
		t.Fatalf("events/%s.json is not a scheduled EventBridge event: %v %+v", app.SweepName, err, ev)
	}
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		client, table, counter := enginetest.NewTable(t, e)
		deps := app.NewDeps(app.Config{TableName: table, Region: "us-east-1"}, client, nil)
		now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
		due := &identification.Identification{
			ID: uuid.Must(uuid.NewV7()).String(), OrgID: "acme", Type: identification.TypeChain, Status: identification.StatusInProgress,
			CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute),
			Actor: identification.Actor{Name: "Due"}, Sequence: []identification.Step{{IdentificationType: "AGENT", Status: "PENDING"}}, Version: 1,
		}
		if err := deps.Store.Create(t.Context(), due, nil); err != nil {
			t.Fatal(err)
		}
		h := app.NewSweepHandler(deps, func() time.Time { return now }, sweep.Options{})
		counter.Reset()
		res, err := h(t.Context(), ev)
		if err != nil || res.Expired != 1 || !res.Complete {
			t.Fatalf("got %s, %v; want one expired, complete", res, err)
		}
		got, err := deps.Store.Get(t.Context(), due.Ref())
		if err != nil || got.Status != identification.StatusExpired || got.Version != 2 {
			t.Fatalf("after the sweep: %+v, %v", got, err)
		}
		if ops := counter.ByOperation(); ops["Scan"] != 0 || ops["UpdateItem"] != 1 {
			t.Errorf("calls %v, want Query per shard and one UpdateItem, no Scan", ops)
		}
	})
}
