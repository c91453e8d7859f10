package dynamostore

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/identification"
)

// codec is a pair of conversions to check: the store's own, or a broken one.
type codec struct {
	encode func(*identification.Identification, *identification.CodeMaterial) (map[string]types.AttributeValue, error)
	decode func(map[string]types.AttributeValue) (*identification.Identification, *identification.CodeMaterial, error)
}

var storeCodec = codec{
	encode: func(i *identification.Identification, c *identification.CodeMaterial) (map[string]types.AttributeValue, error) {
		return marshalItem(toItem(i, c, 16, time.Hour))
	},
	decode: unmarshalItem,
}

// roundTrip checks that the full fixture, every field set, comes back
// through c unchanged.
func roundTrip(c codec) error {
	want, wantCode := fixture.Full()
	// Each step carries the sub-object of its own type only.
	// Unsettled is derived on a read, not stored.
	want.Unsettled = identification.SettlementOf(want, wantCode)
	if zero := fixture.ZeroFields(want, "Unsettled", "Sequence[1].OTPStep", "Sequence[1].IdentityDocumentStep", "Sequence[2].OTPStep"); len(zero) > 0 {
		return fmt.Errorf("the fixture is not full: %v are zero", zero)
	}
	if zero := fixture.ZeroFields(wantCode); len(zero) > 0 {
		return fmt.Errorf("the code fixture is not full: %v are zero", zero)
	}
	av, err := c.encode(want, wantCode)
	if err != nil {
		return err
	}
	got, gotCode, err := c.decode(av)
	if err != nil {
		return err
	}
	// Step statuses are derived, not stored: compare them derived.
	want.SyncSteps()
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("process changed:\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(gotCode, wantCode) {
		return fmt.Errorf("code material changed:\n got %+v\nwant %+v", gotCode, wantCode)
	}
	return nil
}

func TestEveryFieldRoundTrips(t *testing.T) {
	if err := roundTrip(storeCodec); err != nil {
		t.Error(err)
	}
}

// TestRoundTripCatchesAForgottenField feeds the check a codec that forgets
// one field: it must fail, or the check above proves nothing.
func TestRoundTripCatchesAForgottenField(t *testing.T) {
	forgetful := codec{
		encode: storeCodec.encode,
		decode: func(av map[string]types.AttributeValue) (*identification.Identification, *identification.CodeMaterial, error) {
			i, c, err := unmarshalItem(av)
			if i != nil && i.Agent != nil {
				i.Agent.EvidenceMetadata = "" // the forgotten field
			}
			return i, c, err
		},
	}
	if err := roundTrip(forgetful); err == nil {
		t.Error("a codec that drops agent.evidence_metadata passed the round trip")
	}
}

// TestStoredItemIsFull: the item written for the full fixture has every
// attribute but the tombstone's own, so no field of item is left unset by
// toItem.
func TestStoredItemIsFull(t *testing.T) {
	i, c := fixture.Full()
	it := toItem(i, c, 16, time.Hour)
	it.LastWrite = "token"
	if zero := fixture.ZeroFields(it, "DeletedAt", "DeletedBy", "OpenShard", "OpenExpiresAt", "DeliveryClaimedAt", "PublishedVersion", "IdemKey",
		"Sequence[1].TwoFactorType", "Sequence[1].Channel", "Sequence[1].ProviderType", "Sequence[2].TwoFactorType", "Sequence[2].Channel"); len(zero) > 0 {
		t.Errorf("toItem left %v unset", zero)
	}
}

func TestOpenIndexKeysOnlyWhileOpen(t *testing.T) {
	for _, st := range identification.Statuses {
		i, c := fixture.Full()
		i.Status = st
		av, err := marshalItem(toItem(i, c, 16, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := av[attrOpenShard]; ok != st.Open() {
			t.Errorf("%s: open_shard present = %v", st, ok)
		}
	}
}

func TestUnmarshalRefusesForeignItems(t *testing.T) {
	cases := map[string]map[string]types.AttributeValue{
		"created_at a string": {"created_at": &types.AttributeValueMemberS{Value: "x"}},
		"version a float":     {"version": &types.AttributeValueMemberN{Value: "1.5"}},
		"actor a string":      {"actor": &types.AttributeValueMemberS{Value: "x"}},
		"sequence a map":      {"sequence": &types.AttributeValueMemberM{}},
		"step a string":       {"sequence": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}}}},
		"external a string": {"channel": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"type": &types.AttributeValueMemberS{Value: "SMS"}, "external": &types.AttributeValueMemberS{Value: "true"}}}},
	}
	for name, av := range cases {
		if _, _, err := unmarshalItem(av); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestTombstoneRemovesEveryPersonalAttribute: the delete's REMOVE list
// covers every attribute but the few a tombstone keeps.
func TestTombstoneRemovesEveryPersonalAttribute(t *testing.T) {
	removed := map[string]bool{}
	for _, n := range tombstoneRemoves {
		removed[n] = true
	}
	for _, must := range []string{"actor", "device", "completed_device", "agent", "code_hash", "code_nonce", "guesses", "cancel_reason", "sequence"} {
		if !removed[must] {
			t.Errorf("a delete keeps %s", must)
		}
	}
	for keep := range tombstoneKeeps {
		if removed[keep] {
			t.Errorf("a delete removes %s, which the tombstone keeps", keep)
		}
	}
}
