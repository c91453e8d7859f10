package dynamostore_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/google/uuid"

	"github.com/idadmin/api/internal/enginetest"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
)

func TestMain(m *testing.M) { enginetest.Main(m) }

var now = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

const retention = 30 * 24 * time.Hour

func newStore(t *testing.T, e enginetest.Engine) (*dynamostore.Store, *dynamodb.Client, string, *enginetest.CallCounter) {
	t.Helper()
	client, table, counter := enginetest.NewTable(t, e)
	return dynamostore.New(client, dynamostore.Options{Table: table, Shards: 16, Retention: retention}), client, table, counter
}

func sample(t *testing.T, status identification.Status, expiresAt time.Time) *identification.Identification {
	t.Helper()
	id, err := uuid.NewV7()
	if err != nil {
		t.Fatal(err)
	}
	return &identification.Identification{
		ID: id.String(), OrgID: "acme", Type: identification.TypeChain, Status: status,
		CreatedAt: now.Add(-time.Hour), UpdatedAt: now.Add(-time.Hour), ExpiresAt: expiresAt,
		Actor: identification.Actor{
			Name: "James", LastName: "Smith", Email: "j@example.com", Language: "ES",
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: "12345678A", DocumentType: "NIF", Country: "ES"},
			MSISDN:           &identification.MSISDN{PhoneNumber: "6123456789", CountryCode: "34"},
		},
		Sequence: []identification.Step{
			{IdentificationType: "OTP", Status: "PENDING", OTPStep: &identification.OTPStep{TwoFactorType: "EMAIL", Channel: &identification.Channel{Type: "SMS"}}},
			{IdentificationType: "AGENT", Status: "PENDING"},
			{IdentificationType: "IDENTITY_DOCUMENT", Status: "PENDING", IdentityDocumentStep: &identification.IdentityDocumentStep{ProviderType: "EXTERNAL"}},
		},
		Version:          1,
		CreatedUserAgent: "store-test/1",
	}
}

func mustCreate(t *testing.T, s *dynamostore.Store, i *identification.Identification) {
	t.Helper()
	if err := s.Create(t.Context(), i, nil); err != nil {
		t.Fatalf("create: %v", err)
	}
}

// rawItem reads the stored item as DynamoDB holds it.
func rawItem(t *testing.T, client *dynamodb.Client, table string, i *identification.Identification) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), ConsistentRead: aws.Bool(true),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: "ORG#" + i.OrgID + "#" + string(i.Type) + "#" + i.ID}, "sk": &types.AttributeValueMemberS{Value: "P"}},
	})
	if err != nil {
		t.Fatalf("raw get: %v", err)
	}
	return out.Item
}

func number(t *testing.T, av types.AttributeValue) string {
	t.Helper()
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		t.Fatalf("attribute %v is not a number", av)
	}
	return n.Value
}

func TestCreateGetRoundTrip(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		s, _, _, counter := newStore(t, e)
		want := sample(t, identification.StatusCreated, now.Add(time.Hour))
		mustCreate(t, s, want)
		got, err := s.Get(t.Context(), want.Ref())
		if err != nil {
			t.Fatalf("get: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
		}
		if err := s.Create(t.Context(), want, nil); identification.KindOf(err) != identification.KindConflict {
			t.Errorf("second create: got %v, want KindConflict", err)
		}
		if n := counter.Total(); n != 3 {
			t.Errorf("calls: got %d, want 3 (one per operation)", n)
		}
		for _, ref := range []identification.Ref{
			{Org: "acme2", Type: want.Type, ID: want.ID},
			{Org: "acm", Type: want.Type, ID: want.ID},
			{Org: "acme", Type: identification.TypeOTP, ID: want.ID},
		} {
			if _, err := s.Get(t.Context(), ref); identification.KindOf(err) != identification.KindNotFound {
				t.Errorf("get %+v: got %v, want KindNotFound", ref, err)
			}
		}
	})
}

func TestTransitionsAreClassifiedFromTheOldItem(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		s, _, _, counter := newStore(t, e)
		cases := []struct {
			name   string
			status identification.Status
			expiry time.Time
			action identification.Action
			want   identification.Kind
		}{
			{"cancel missing", "", now.Add(time.Hour), identification.ActionCancel, identification.KindNotFound},
			{"cancel cancelled", identification.StatusCancelled, now.Add(time.Hour), identification.ActionCancel, identification.KindConflict},
			{"close past expiry", identification.StatusInProgress, now.Add(-time.Second), identification.ActionClose, identification.KindExpired},
			{"close expired", identification.StatusExpired, now.Add(-time.Hour), identification.ActionClose, identification.KindExpired},
			{"expire not yet due", identification.StatusCreated, now.Add(time.Second), identification.ActionExpire, identification.KindConflict},
			{"expire completed", identification.StatusCompleted, now.Add(-time.Hour), identification.ActionExpire, identification.KindConflict},
			{"expire due", identification.StatusCreated, now, identification.ActionExpire, 0},
			{"close completed past expiry", identification.StatusCompleted, now.Add(-time.Hour), identification.ActionClose, 0},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				i := sample(t, tc.status, tc.expiry)
				if tc.status != "" {
					mustCreate(t, s, i)
				}
				counter.Reset()
				err := identification.Do(t.Context(), s, i.Ref(), identification.Command{Action: tc.action, At: now})
				if got := identification.KindOf(err); got != tc.want || (tc.want == 0 && err != nil) {
					t.Errorf("got %v (kind %v), want kind %v", err, got, tc.want)
				}
				if n := counter.Total(); n != 1 {
					t.Errorf("calls: got %d, want 1 (no second read)", n)
				}
			})
		}
	})
}

func TestFinalTransitionLeavesTheOpenIndexAndSetsTTL(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		s, client, table, _ := newStore(t, e)
		for _, action := range []identification.Action{identification.ActionCancel, identification.ActionClose, identification.ActionExpire} {
			t.Run(string(action), func(t *testing.T) {
				expires := now.Add(time.Hour)
				at := now
				if action == identification.ActionExpire {
					at = expires.Add(5 * time.Minute)
				}
				i := sample(t, identification.StatusInProgress, expires)
				mustCreate(t, s, i)
				open := rawItem(t, client, table, i)
				if _, ok := open["open_shard"]; !ok {
					t.Fatalf("open item has no open_shard: %v", open)
				}
				if got, want := number(t, open["open_expires_at"]), strconv.FormatInt(expires.Unix(), 10); got != want {
					t.Errorf("open_expires_at: got %s, want %s", got, want)
				}
				if got, want := number(t, open["ttl"]), strconv.FormatInt(expires.Add(retention).Unix(), 10); got != want {
					t.Errorf("ttl while open: got %s, want expiry + retention %s", got, want)
				}
				if err := identification.Do(t.Context(), s, i.Ref(), identification.Command{Action: action, At: at, Reason: "r", By: identification.Caller{UserAgent: "ua"}}); err != nil {
					t.Fatalf("%s: %v", action, err)
				}
				ended := rawItem(t, client, table, i)
				for _, k := range []string{"open_shard", "open_expires_at"} {
					if _, ok := ended[k]; ok {
						t.Errorf("%s still present after %s", k, action)
					}
				}
				endedAt := at
				if action == identification.ActionExpire {
					endedAt = expires
				}
				if got, want := number(t, ended["ttl"]), strconv.FormatInt(endedAt.Add(retention).Unix(), 10); got != want {
					t.Errorf("ttl: got %s, want end + retention %s", got, want)
				}
				got, err := s.Get(t.Context(), i.Ref())
				if err != nil {
					t.Fatal(err)
				}
				if got.Version != 2 || got.EndedAt == nil || !got.EndedAt.Equal(endedAt) || !got.UpdatedAt.Equal(at) {
					t.Errorf("after %s: version %d ended %v updated %v, want 2 %v %v", action, got.Version, got.EndedAt, got.UpdatedAt, endedAt, at)
				}
			})
		}
	})
}

func TestDeleteIsConditional(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		s, _, _, _ := newStore(t, e)
		ctx := context.Background()
		created := sample(t, identification.StatusCreated, now.Add(time.Hour))
		progress := sample(t, identification.StatusInProgress, now.Add(time.Hour))
		due := sample(t, identification.StatusCreated, now)
		for _, i := range []*identification.Identification{created, progress, due} {
			mustCreate(t, s, i)
		}
		cases := []struct {
			name  string
			ref   identification.Ref
			force bool
			want  identification.Kind
		}{
			{"in progress", progress.Ref(), false, identification.KindForbidden},
			{"created at expiry", due.Ref(), false, identification.KindForbidden},
			{"created", created.Ref(), false, 0},
			{"created again", created.Ref(), false, identification.KindNotFound},
			{"in progress forced", progress.Ref(), true, 0},
			{"missing forced", progress.Ref(), true, identification.KindNotFound},
		}
		for _, tc := range cases {
			err := s.Delete(ctx, tc.ref, tc.force, identification.Caller{Kind: identification.CallerAdmin, Sub: "test-admin"}, now)
			if got := identification.KindOf(err); got != tc.want || (tc.want == 0 && err != nil) {
				t.Errorf("%s: got %v, want kind %v", tc.name, err, tc.want)
			}
		}
		var de *identification.Error
		if err := s.Delete(ctx, due.Ref(), false, identification.Caller{Kind: identification.CallerAdmin, Sub: "test-admin"}, now); !errors.As(err, &de) || de.Message != "identification is EXPIRED; delete without force=true is allowed only from CREATED" {
			t.Errorf("refusal message: got %v", err)
		}
	})
}

// TestNonFinalActionsKeepTheOpenIndexAndTTL: start, attempt and issue_code
// leave a process open: its open-index keys stay, no ended_at appears and
// its TTL does not move, so the sweep still finds it.
func TestNonFinalActionsKeepTheOpenIndexAndTTL(t *testing.T) {
	enginetest.ForEach(t, func(t *testing.T, e enginetest.Engine) {
		s, client, table, _ := newStore(t, e)
		device := &identification.Device{InstallationID: "i", Fingerprint: "f"}
		otp := sample(t, identification.StatusCreated, now.Add(time.Hour))
		otp.Type, otp.Sequence = identification.TypeOTP, nil
		otp.Channel = &identification.Channel{Type: "SMS", External: true}
		otp.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: now.Add(5 * time.Minute), LastCodeAt: now.Add(-time.Minute)}
		chain := sample(t, identification.StatusCreated, now.Add(time.Hour))
		for _, c := range []struct {
			i   *identification.Identification
			cmd identification.Command
		}{
			{chain, identification.Command{Action: identification.ActionStart, At: now, By: identification.Caller{Kind: identification.CallerActor, Device: device}}},
			{otp, identification.Command{Action: identification.ActionAttempt, At: now, Guesses: []string{"g"}}},
			{otp, identification.Command{Action: identification.ActionIssueCode, At: now, Code: &identification.IssuedCode{Hash: "h2", KeyID: "k", ExpiresAt: now.Add(10 * time.Minute), Delivery: "EXTERNAL"}}},
		} {
			if c.cmd.Action != identification.ActionIssueCode {
				if err := s.Create(t.Context(), c.i, &identification.CodeMaterial{Hash: "h", KeyID: "k"}); err != nil {
					t.Fatal(err)
				}
			}
			before := rawItem(t, client, table, c.i)
			if err := identification.Do(t.Context(), s, c.i.Ref(), c.cmd); err != nil {
				t.Fatalf("%s: %v", c.cmd.Action, err)
			}
			after := rawItem(t, client, table, c.i)
			for _, k := range []string{"open_shard", "open_expires_at", "ttl"} {
				if !reflect.DeepEqual(before[k], after[k]) || after[k] == nil {
					t.Errorf("%s changed %s: %v -> %v", c.cmd.Action, k, before[k], after[k])
				}
			}
			for _, k := range []string{"ended_at", "completed_at"} {
				if _, ok := after[k]; ok {
					t.Errorf("%s set %s", c.cmd.Action, k)
				}
			}
		}
	})
}
