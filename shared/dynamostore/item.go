package dynamostore

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// Attribute names the conditions and updates refer to.
const (
	attrPK            = "pk"
	attrStatus        = "status"
	attrExpiresAt     = "expires_at"
	attrUpdatedAt     = "updated_at"
	attrEndedAt       = "ended_at"
	attrVersion       = "version"
	attrCancelReason  = "cancel_reason"
	attrEndedBy       = "ended_user_agent"
	attrTTL           = "ttl"
	attrOpenShard     = "open_shard"
	attrOpenExpiresAt = "open_expires_at"
	attrCreateToken   = "create_token"
)

// item is an identification as stored. Times are Unix seconds so conditions
// can compare them; the TTL attribute is the end of retention.
type item struct {
	PK        string `dynamodbav:"pk"`
	Org       string `dynamodbav:"org"`
	ID        string `dynamodbav:"id"`
	Type      string `dynamodbav:"type"`
	Status    string `dynamodbav:"status"`
	CreatedAt int64  `dynamodbav:"created_at"`
	UpdatedAt int64  `dynamodbav:"updated_at"`
	ExpiresAt int64  `dynamodbav:"expires_at"`
	EndedAt   int64  `dynamodbav:"ended_at,omitempty"`
	Version   int64  `dynamodbav:"version"`
	TTL       int64  `dynamodbav:"ttl"`

	Actor         actorItem  `dynamodbav:"actor"`
	TwoFactorType string     `dynamodbav:"two_factor_type,omitempty"`
	Channel       *channel   `dynamodbav:"channel,omitempty"`
	Sequence      []stepItem `dynamodbav:"sequence,omitempty"`
	CancelReason  string     `dynamodbav:"cancel_reason,omitempty"`
	CreatedBy     string     `dynamodbav:"created_user_agent,omitempty"`
	EndedBy       string     `dynamodbav:"ended_user_agent,omitempty"`

	// OpenShard and OpenExpiresAt are the keys of the sparse open-by-expiry
	// index: present only while the process is open.
	OpenShard     string `dynamodbav:"open_shard,omitempty"`
	OpenExpiresAt int64  `dynamodbav:"open_expires_at,omitempty"`
}

type actorItem struct {
	Name             string           `dynamodbav:"name"`
	LastName         string           `dynamodbav:"last_name,omitempty"`
	IdentityDocument *identityDocItem `dynamodbav:"identity_document,omitempty"`
	Email            string           `dynamodbav:"email,omitempty"`
	MSISDN           *msisdnItem      `dynamodbav:"msisdn,omitempty"`
	Language         string           `dynamodbav:"language,omitempty"`
}

type identityDocItem struct {
	DocumentNumber string `dynamodbav:"document_number"`
	DocumentType   string `dynamodbav:"document_type"`
	Country        string `dynamodbav:"country,omitempty"`
}

type msisdnItem struct {
	PhoneNumber string `dynamodbav:"phone_number"`
	CountryCode string `dynamodbav:"country_code"`
}

type channel struct {
	Type     string `dynamodbav:"type"`
	External bool   `dynamodbav:"external"`
}

type stepItem struct {
	IdentificationType string   `dynamodbav:"identification_type"`
	Status             string   `dynamodbav:"status"`
	TwoFactorType      string   `dynamodbav:"two_factor_type,omitempty"`
	Channel            *channel `dynamodbav:"channel,omitempty"`
	ProviderType       string   `dynamodbav:"provider_type,omitempty"`
}

// key is the primary key of ref: the organisation is always part of it.
func key(ref identification.Ref) string {
	return "ORG#" + ref.Org + "#" + string(ref.Type) + "#" + ref.ID
}

func keyAttr(ref identification.Ref) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: &types.AttributeValueMemberS{Value: key(ref)}}
}

// shardOf spreads open processes over the index's partitions by id.
func shardOf(id string, shards int) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return shardName(int(h.Sum32() % uint32(shards)))
}

func shardName(shard int) string { return fmt.Sprintf("OPEN#%02d", shard) }

func toItem(i *identification.Identification, shards int, retention time.Duration) item {
	it := item{
		PK:            key(i.Ref()),
		Org:           i.OrgID,
		ID:            i.ID,
		Type:          string(i.Type),
		Status:        string(i.Status),
		CreatedAt:     i.CreatedAt.Unix(),
		UpdatedAt:     i.UpdatedAt.Unix(),
		ExpiresAt:     i.ExpiresAt.Unix(),
		Version:       i.Version,
		TwoFactorType: i.TwoFactorType,
		CancelReason:  i.CancelReason,
		CreatedBy:     i.CreatedUserAgent,
		EndedBy:       i.EndedUserAgent,
		Actor: actorItem{
			Name:     i.Actor.Name,
			LastName: i.Actor.LastName,
			Email:    i.Actor.Email,
			Language: i.Actor.Language,
		},
	}
	end := i.ExpiresAt
	if i.EndedAt != nil {
		it.EndedAt = i.EndedAt.Unix()
		end = *i.EndedAt
	}
	it.TTL = end.Add(retention).Unix()
	if i.Status.Open() {
		it.OpenShard = shardOf(i.ID, shards)
		it.OpenExpiresAt = it.ExpiresAt
	}
	if d := i.Actor.IdentityDocument; d != nil {
		it.Actor.IdentityDocument = &identityDocItem{DocumentNumber: d.DocumentNumber, DocumentType: d.DocumentType, Country: d.Country}
	}
	if m := i.Actor.MSISDN; m != nil {
		it.Actor.MSISDN = &msisdnItem{PhoneNumber: m.PhoneNumber, CountryCode: m.CountryCode}
	}
	if c := i.Channel; c != nil {
		it.Channel = &channel{Type: c.Type, External: c.External}
	}
	for _, st := range i.Sequence {
		s := stepItem{IdentificationType: st.IdentificationType, Status: st.Status}
		if o := st.OTPStep; o != nil {
			s.TwoFactorType = o.TwoFactorType
			if o.Channel != nil {
				s.Channel = &channel{Type: o.Channel.Type, External: o.Channel.External}
			}
		}
		if d := st.IdentityDocumentStep; d != nil {
			s.ProviderType = d.ProviderType
		}
		it.Sequence = append(it.Sequence, s)
	}
	return it
}

func fromItem(it item) *identification.Identification {
	i := &identification.Identification{
		ID:               it.ID,
		OrgID:            it.Org,
		Type:             identification.Type(it.Type),
		Status:           identification.Status(it.Status),
		CreatedAt:        time.Unix(it.CreatedAt, 0).UTC(),
		UpdatedAt:        time.Unix(it.UpdatedAt, 0).UTC(),
		ExpiresAt:        time.Unix(it.ExpiresAt, 0).UTC(),
		Version:          it.Version,
		TwoFactorType:    it.TwoFactorType,
		CancelReason:     it.CancelReason,
		CreatedUserAgent: it.CreatedBy,
		EndedUserAgent:   it.EndedBy,
		Actor: identification.Actor{
			Name:     it.Actor.Name,
			LastName: it.Actor.LastName,
			Email:    it.Actor.Email,
			Language: it.Actor.Language,
		},
	}
	if it.EndedAt != 0 {
		t := time.Unix(it.EndedAt, 0).UTC()
		i.EndedAt = &t
	}
	if d := it.Actor.IdentityDocument; d != nil {
		i.Actor.IdentityDocument = &identification.IdentityDocument{DocumentNumber: d.DocumentNumber, DocumentType: d.DocumentType, Country: d.Country}
	}
	if m := it.Actor.MSISDN; m != nil {
		i.Actor.MSISDN = &identification.MSISDN{PhoneNumber: m.PhoneNumber, CountryCode: m.CountryCode}
	}
	if c := it.Channel; c != nil {
		i.Channel = &identification.Channel{Type: c.Type, External: c.External}
	}
	for _, s := range it.Sequence {
		st := identification.Step{IdentificationType: s.IdentificationType, Status: s.Status}
		if s.IdentificationType == "OTP" {
			st.OTPStep = &identification.OTPStep{TwoFactorType: s.TwoFactorType}
			if s.Channel != nil {
				st.OTPStep.Channel = &identification.Channel{Type: s.Channel.Type, External: s.Channel.External}
			}
		}
		if s.ProviderType != "" {
			st.IdentityDocumentStep = &identification.IdentityDocumentStep{ProviderType: s.ProviderType}
		}
		i.Sequence = append(i.Sequence, st)
	}
	return i
}

func marshalItem(it item) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, fmt.Errorf("marshal item: %w", err)
	}
	return av, nil
}

func unmarshalItem(av map[string]types.AttributeValue) (*identification.Identification, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return nil, fmt.Errorf("unmarshal item: %w", err)
	}
	return fromItem(it), nil
}

// oldState reads what a refused conditional write needs from the item it
// returned (ALL_OLD): whether it exists, its status and its expiry.
func oldState(av map[string]types.AttributeValue) (exists bool, status identification.Status, expiresAt time.Time) {
	if len(av) == 0 {
		return false, "", time.Time{}
	}
	if s, ok := av[attrStatus].(*types.AttributeValueMemberS); ok {
		status = identification.Status(s.Value)
	}
	if n, ok := av[attrExpiresAt].(*types.AttributeValueMemberN); ok {
		var secs int64
		fmt.Sscan(n.Value, &secs)
		expiresAt = time.Unix(secs, 0).UTC()
	}
	return true, status, expiresAt
}
