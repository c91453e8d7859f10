package dynamostore

import (
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

func TestItemRoundTrip(t *testing.T) {
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	ended := now.Add(time.Minute)
	cases := []*identification.Identification{
		{ID: "a", OrgID: "acme", Type: identification.TypeOTP, Status: identification.StatusCreated, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour),
			Actor: identification.Actor{Name: "A"}, Channel: &identification.Channel{Type: "SMS", External: true}, Version: 1},
		{ID: "b", OrgID: "acme", Type: identification.TypeChain, Status: identification.StatusCancelled, CreatedAt: now, UpdatedAt: ended, ExpiresAt: now.Add(time.Hour), EndedAt: &ended,
			Actor: identification.Actor{Name: "B", LastName: "C", Email: "b@example.com", Language: "ES",
				IdentityDocument: &identification.IdentityDocument{DocumentNumber: "1-A", DocumentType: "NIE", Country: "ES"},
				MSISDN:           &identification.MSISDN{PhoneNumber: "612345678", CountryCode: "34"}},
			Sequence: []identification.Step{
				{IdentificationType: "OTP", Status: "PENDING", OTPStep: &identification.OTPStep{TwoFactorType: "EMAIL", Channel: &identification.Channel{Type: "EMAIL"}}},
				{IdentificationType: "AGENT", Status: "PENDING"},
				{IdentificationType: "IDENTITY_DOCUMENT", Status: "PENDING", IdentityDocumentStep: &identification.IdentityDocumentStep{ProviderType: "INTERNAL"}},
			},
			CancelReason: "why", Version: 2, CreatedUserAgent: "ua/1", EndedUserAgent: "ua/2"},
	}
	for _, want := range cases {
		av, err := marshalItem(toItem(want, 16, time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		got, err := unmarshalItem(av)
		if err != nil {
			t.Fatalf("%s: %v", want.ID, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n got %+v\nwant %+v", want.ID, got, want)
		}
		if _, ok := av["open_shard"]; ok != want.Status.Open() {
			t.Errorf("%s: open_shard present = %v for %s", want.ID, ok, want.Status)
		}
	}
}

func TestUnmarshalRefusesForeignItems(t *testing.T) {
	cases := map[string]map[string]types.AttributeValue{
		"status a number": {"status": &types.AttributeValueMemberN{Value: "1"}},
		"version a float": {"version": &types.AttributeValueMemberN{Value: "1.5"}},
		"actor a string":  {"actor": &types.AttributeValueMemberS{Value: "x"}},
		"sequence a map":  {"sequence": &types.AttributeValueMemberM{}},
		"step a string":   {"sequence": &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberS{Value: "x"}}}},
		"external a string": {"channel": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"type": &types.AttributeValueMemberS{Value: "SMS"}, "external": &types.AttributeValueMemberS{Value: "true"}}}},
	}
	for name, av := range cases {
		if _, err := unmarshalItem(av); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
