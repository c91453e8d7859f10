package dynamostore_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
)

// transactInputs records the TransactWriteItems calls a client makes.
type transactInputs struct {
	mu    sync.Mutex
	calls [][]types.TransactWriteItem
}

func (c *transactInputs) addTo(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("transactInputs",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			if req, ok := in.Parameters.(*dynamodb.TransactWriteItemsInput); ok {
				c.mu.Lock()
				c.calls = append(c.calls, slices.Clone(req.TransactItems))
				c.mu.Unlock()
			}
			return next.HandleInitialize(ctx, in)
		}), middleware.After)
}

func (c *transactInputs) take() [][]types.TransactWriteItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	calls := c.calls
	c.calls = nil
	return calls
}

// settingsV is a document named name as version v, and its audit entry.
func settingsV(name string, v int64) (settings.Stored, settings.Change) {
	at := now.Add(time.Duration(v) * time.Minute)
	return settings.Stored{Settings: settings.Settings{DisplayName: name, Channels: []string{"SMS"},
			Messages: map[string]map[string]string{"SMS": {"ES": "Código {code}"}}}, Version: v, UpdatedAt: at, UpdatedBy: "admin-1"},
		settings.Change{Version: v, At: at, ByKind: identification.CallerAdmin, BySub: "admin-1", RequestID: "req-1", Fields: []string{"display_name"}}
}

// TestSettingsPutIsOneTransactionOfTwoItems: a change is one
// TransactWriteItems of exactly two puts, the document (on its version)
// and its audit entry, under the organisation's settings key; a refused
// one is that one call too, not tried again. The document is read with
// one strongly consistent GetItem, and a page of the audit list is one
// Query.
func TestSettingsPutIsOneTransactionOfTwoItems(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		_, _, table, _ := newStore(t, e)
		in := &transactInputs{}
		client, counter := enginetest.NewClientWithCounter(e, dynamodb.WithAPIOptions(in.addTo))
		store := dynamostore.New(client, dynamostore.Options{Table: table})
		ctx := t.Context()
		checkTwoPuts := func(what string, version string) {
			t.Helper()
			if ops := counter.Ops(); !slices.Equal(ops, []string{"TransactWriteItems"}) {
				t.Errorf("%s made %v; want one TransactWriteItems", what, ops)
			}
			calls := in.take()
			if len(calls) != 1 || len(calls[0]) != 2 {
				t.Fatalf("%s: %d transactions (%v); want one of two items", what, len(calls), calls)
			}
			for n, wantSK := range []string{"S", "H#" + version} {
				p := calls[0][n].Put
				if p == nil || p.ConditionExpression == nil {
					t.Errorf("%s: item %d is %+v; want a conditional Put", what, n, calls[0][n])
					continue
				}
				if pk, sk := s(p.Item["pk"]), s(p.Item["sk"]); pk != "ORG#acme#SETTINGS" || sk != wantSK {
					t.Errorf("%s: item %d is %s %s; want ORG#acme#SETTINGS %s", what, n, pk, sk, wantSK)
				}
			}
			counter.Reset()
		}

		v1, c1 := settingsV("Acme", 1)
		if err := store.PutSettings(ctx, "acme", v1, 0, c1); err != nil {
			t.Fatal(err)
		}
		checkTwoPuts("the first put", "000000000001")
		v2, c2 := settingsV("Acme 2", 2)
		if err := store.PutSettings(ctx, "acme", v2, 1, c2); err != nil {
			t.Fatal(err)
		}
		checkTwoPuts("a put from version 1", "000000000002")
		err := store.PutSettings(ctx, "acme", v2, 1, c2)
		wantKind(t, "a put from a stale version", err, identification.KindPrecondition)
		checkTwoPuts("a put from a stale version", "000000000002")

		if _, err := store.Settings(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		if calls := counter.Calls(); len(calls) != 1 || calls[0].Op != "GetItem" {
			t.Errorf("Settings made %v; want one GetItem", counter.Ops())
		}
		counter.Reset()
		if _, _, err := store.SettingsHistory(ctx, "acme", 1, 0); err != nil {
			t.Fatal(err)
		}
		if ops := counter.Ops(); !slices.Equal(ops, []string{"Query"}) {
			t.Errorf("SettingsHistory made %v; want one Query", ops)
		}
	})
}

// TestSettingsItemsReachNoIndexOrStream: the document and its audit
// entries carry no index's key attribute and no sort key P (so neither an
// index nor the stream function sees them); the document's members are
// one map attribute named as the API's JSON names them, members not set
// left out.
func TestSettingsItemsReachNoIndexOrStream(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		store, client, table, _ := newStore(t, e)
		ctx := t.Context()
		full := settings.Settings{DisplayName: "Acme", DefaultLanguage: "EN", CodeLength: 8, CodeTTLMinutes: 10,
			Channels: []string{"EMAIL", "SMS"}, Messages: map[string]map[string]string{"SMS": {"ES": "Código {code}", "EN": "Code {code}"}}}
		_, c1 := settingsV("", 1)
		if err := store.PutSettings(ctx, "acme", settings.Stored{Settings: full, Version: 1, UpdatedAt: now, UpdatedBy: "admin-1"}, 0, c1); err != nil {
			t.Fatal(err)
		}
		h := &hooks{store: store, client: client, table: table}
		doc := h.raw(t, "ORG#acme#SETTINGS", "S")
		m, ok := doc["settings"].(*types.AttributeValueMemberM)
		if !ok {
			t.Fatalf("the document's settings attribute is %T; want a map", doc["settings"])
		}
		var names []string
		for k := range m.Value {
			names = append(names, k)
		}
		slices.Sort(names)
		if want := []string{"channels", "code", "default_language", "display_name", "messages"}; !slices.Equal(names, want) {
			t.Errorf("the document's members are %v; want %v", names, want)
		}
		code, _ := m.Value["code"].(*types.AttributeValueMemberM)
		if code == nil || n(code.Value["length"]) != "8" || n(code.Value["ttl_minutes"]) != "10" {
			t.Errorf("the document's code is %v; want length 8, ttl_minutes 10", m.Value["code"])
		}
		msgs, _ := m.Value["messages"].(*types.AttributeValueMemberM)
		if sms, _ := msgs.Value["SMS"].(*types.AttributeValueMemberM); sms == nil || s(sms.Value["ES"]) != "Código {code}" {
			t.Errorf("the document's messages are %v; want messages.SMS.ES", m.Value["messages"])
		}

		_, c2 := settingsV("", 2)
		if err := store.PutSettings(ctx, "acme", settings.Stored{Settings: settings.Settings{CodeTTLMinutes: 5}, Version: 2, UpdatedAt: now}, 1, c2); err != nil {
			t.Fatal(err)
		}
		m, _ = h.raw(t, "ORG#acme#SETTINGS", "S")["settings"].(*types.AttributeValueMemberM)
		code, _ = m.Value["code"].(*types.AttributeValueMemberM)
		if len(m.Value) != 1 || code == nil || len(code.Value) != 1 || n(code.Value["ttl_minutes"]) != "5" {
			t.Errorf("a document of the lifetime only is stored as %v; want code.ttl_minutes alone", m.Value)
		}
		entry := h.raw(t, "ORG#acme#SETTINGS", "H#000000000002")
		if s(entry["kind"]) != "settings-change" || n(entry["version"]) != "2" || s(entry["by_kind"]) != "admin" || s(entry["request_id"]) != "req-1" {
			t.Errorf("the audit entry of version 2 is %v", entry)
		}
		if l, _ := entry["fields"].(*types.AttributeValueMemberL); l == nil || len(l.Value) != 1 || s(l.Value[0]) != "display_name" {
			t.Errorf("the audit entry's fields are %v; want a list of display_name", entry["fields"])
		}
		checkNoIndexKeys(t, client, table, "settings")
	})
}

// TestSettingsTransactionConflictsAreTriedAgain: a change that DynamoDB
// cancels for meeting another transaction is tried again, each time as a
// new transaction, and succeeds; one that keeps meeting others is
// KindConflict, told to retry, and has written nothing.
func TestSettingsTransactionConflictsAreTriedAgain(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		store, _, table, _ := newStore(t, e)
		c := &transactConflicts{}
		faulty, counter := enginetest.NewClientWithCounter(e, dynamodb.WithAPIOptions(c.addTo))
		retrying := dynamostore.New(faulty, dynamostore.Options{Table: table})
		ctx := t.Context()

		c.set(3)
		v1, c1 := settingsV("Acme", 1)
		if err := retrying.PutSettings(ctx, "acme", v1, 0, c1); err != nil {
			t.Fatalf("PutSettings after 3 conflicts: %v", err)
		}
		if n := counter.Count("TransactWriteItems"); n != 4 || !c.distinctTokens() {
			t.Errorf("%d TransactWriteItems calls (tokens %q); want 4, each with its own token", n, c.tokens)
		}

		c.set(1000)
		counter.Reset()
		v2, c2 := settingsV("Acme 2", 2)
		err := retrying.PutSettings(ctx, "acme", v2, 1, c2)
		if wantKind(t, "PutSettings that always conflicts", err, identification.KindConflict); err == nil || !strings.Contains(err.Error(), "retry") {
			t.Errorf("PutSettings that always conflicts: %v; want to be told to retry", err)
		}
		if n := counter.Count("TransactWriteItems"); n < 2 || n > 20 {
			t.Errorf("%d TransactWriteItems calls for a change that always conflicts; want a few", n)
		}
		got, err := store.Settings(ctx, "acme")
		if err != nil || got.Version != 1 || got.Settings.DisplayName != "Acme" {
			t.Errorf("after a change that always conflicted: %+v, %v; want version 1 as it was", got, err)
		}
		page, more, err := store.SettingsHistory(ctx, "acme", 10, 0)
		if err != nil || more || len(page) != 1 || page[0].Version != 1 {
			t.Errorf("the audit list after a change that always conflicted: %+v, %v, %v; want version 1's entry only", page, more, err)
		}
	})
}
