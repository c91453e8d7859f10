package dynamostore

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"time"

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

// item is an identification as stored (see marshalItem for the attribute
// names). Times are Unix seconds so conditions can compare them; the TTL
// attribute is the end of retention.
type item struct {
	PK        string
	Org       string
	ID        string
	Type      string
	Status    string
	CreatedAt int64
	UpdatedAt int64
	ExpiresAt int64
	EndedAt   int64
	Version   int64
	TTL       int64

	Actor         actorItem
	TwoFactorType string
	Channel       *channel
	Sequence      []stepItem
	CancelReason  string
	CreatedBy     string
	EndedBy       string

	// OpenShard and OpenExpiresAt are the keys of the sparse open-by-expiry
	// index: present only while the process is open.
	OpenShard     string
	OpenExpiresAt int64
}

type actorItem struct {
	Name             string
	LastName         string
	IdentityDocument *identityDocItem
	Email            string
	MSISDN           *msisdnItem
	Language         string
}

type identityDocItem struct {
	DocumentNumber string
	DocumentType   string
	Country        string
}

type msisdnItem struct {
	PhoneNumber string
	CountryCode string
}

type channel struct {
	Type     string
	External bool
}

type stepItem struct {
	IdentificationType string
	Status             string
	TwoFactorType      string
	Channel            *channel
	ProviderType       string
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

// marshalItem writes it as DynamoDB attributes: empty optional values are
// left out, as omitempty would. The conversion is written out rather than
// done by attributevalue's reflection: it is several times faster, and
// attributevalue (with the DynamoDB Streams types it pulls in) would add
// about 80 KB to every Lambda binary.
func marshalItem(it item) (map[string]types.AttributeValue, error) {
	av := map[string]types.AttributeValue{
		"pk":         str(it.PK),
		"org":        str(it.Org),
		"id":         str(it.ID),
		"type":       str(it.Type),
		"status":     str(it.Status),
		"created_at": number(it.CreatedAt),
		"updated_at": number(it.UpdatedAt),
		"expires_at": number(it.ExpiresAt),
		"version":    number(it.Version),
		"ttl":        number(it.TTL),
		"actor":      &types.AttributeValueMemberM{Value: marshalActor(it.Actor)},
	}
	putNumber(av, "ended_at", it.EndedAt)
	putString(av, "two_factor_type", it.TwoFactorType)
	putString(av, "cancel_reason", it.CancelReason)
	putString(av, "created_user_agent", it.CreatedBy)
	putString(av, "ended_user_agent", it.EndedBy)
	putString(av, "open_shard", it.OpenShard)
	putNumber(av, "open_expires_at", it.OpenExpiresAt)
	if it.Channel != nil {
		av["channel"] = marshalChannel(*it.Channel)
	}
	if len(it.Sequence) > 0 {
		steps := make([]types.AttributeValue, len(it.Sequence))
		for n, st := range it.Sequence {
			m := map[string]types.AttributeValue{"identification_type": str(st.IdentificationType), "status": str(st.Status)}
			putString(m, "two_factor_type", st.TwoFactorType)
			putString(m, "provider_type", st.ProviderType)
			if st.Channel != nil {
				m["channel"] = marshalChannel(*st.Channel)
			}
			steps[n] = &types.AttributeValueMemberM{Value: m}
		}
		av["sequence"] = &types.AttributeValueMemberL{Value: steps}
	}
	return av, nil
}

func marshalActor(a actorItem) map[string]types.AttributeValue {
	m := map[string]types.AttributeValue{"name": str(a.Name)}
	putString(m, "last_name", a.LastName)
	putString(m, "email", a.Email)
	putString(m, "language", a.Language)
	if d := a.IdentityDocument; d != nil {
		dm := map[string]types.AttributeValue{"document_number": str(d.DocumentNumber), "document_type": str(d.DocumentType)}
		putString(dm, "country", d.Country)
		m["identity_document"] = &types.AttributeValueMemberM{Value: dm}
	}
	if p := a.MSISDN; p != nil {
		m["msisdn"] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
			"phone_number": str(p.PhoneNumber), "country_code": str(p.CountryCode)}}
	}
	return m
}

func marshalChannel(c channel) types.AttributeValue {
	return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{
		"type": str(c.Type), "external": &types.AttributeValueMemberBOOL{Value: c.External}}}
}

func str(s string) *types.AttributeValueMemberS { return &types.AttributeValueMemberS{Value: s} }

func putString(m map[string]types.AttributeValue, k, v string) {
	if v != "" {
		m[k] = str(v)
	}
}

func putNumber(m map[string]types.AttributeValue, k string, v int64) {
	if v != 0 {
		m[k] = number(v)
	}
}

// unmarshalItem reads an item written by marshalItem. A missing optional
// attribute reads as its zero value; an attribute of the wrong type or a
// malformed number is an error (the item was not written by this store).
func unmarshalItem(av map[string]types.AttributeValue) (*identification.Identification, error) {
	r := reader{}
	it := item{
		PK: r.str(av, "pk"), Org: r.str(av, "org"), ID: r.str(av, "id"), Type: r.str(av, "type"), Status: r.str(av, "status"),
		CreatedAt: r.num(av, "created_at"), UpdatedAt: r.num(av, "updated_at"), ExpiresAt: r.num(av, "expires_at"),
		EndedAt: r.num(av, "ended_at"), Version: r.num(av, "version"), TTL: r.num(av, "ttl"),
		TwoFactorType: r.str(av, "two_factor_type"), CancelReason: r.str(av, "cancel_reason"),
		CreatedBy: r.str(av, "created_user_agent"), EndedBy: r.str(av, "ended_user_agent"),
		OpenShard: r.str(av, "open_shard"), OpenExpiresAt: r.num(av, "open_expires_at"),
	}
	if a := r.mapOf(av, "actor"); a != nil {
		it.Actor = actorItem{Name: r.str(a, "name"), LastName: r.str(a, "last_name"), Email: r.str(a, "email"), Language: r.str(a, "language")}
		if d := r.mapOf(a, "identity_document"); d != nil {
			it.Actor.IdentityDocument = &identityDocItem{DocumentNumber: r.str(d, "document_number"), DocumentType: r.str(d, "document_type"), Country: r.str(d, "country")}
		}
		if p := r.mapOf(a, "msisdn"); p != nil {
			it.Actor.MSISDN = &msisdnItem{PhoneNumber: r.str(p, "phone_number"), CountryCode: r.str(p, "country_code")}
		}
	}
	it.Channel = r.channel(av, "channel")
	if l, ok := av["sequence"]; ok {
		list, isList := l.(*types.AttributeValueMemberL)
		if !isList {
			return nil, fmt.Errorf("unmarshal item: sequence is %T, not a list", l)
		}
		for _, v := range list.Value {
			m, isMap := v.(*types.AttributeValueMemberM)
			if !isMap {
				return nil, fmt.Errorf("unmarshal item: a step is %T, not a map", v)
			}
			it.Sequence = append(it.Sequence, stepItem{
				IdentificationType: r.str(m.Value, "identification_type"), Status: r.str(m.Value, "status"),
				TwoFactorType: r.str(m.Value, "two_factor_type"), ProviderType: r.str(m.Value, "provider_type"),
				Channel: r.channel(m.Value, "channel"),
			})
		}
	}
	if r.err != nil {
		return nil, fmt.Errorf("unmarshal item: %w", r.err)
	}
	return fromItem(it), nil
}

// reader reads attributes, keeping the first error.
type reader struct{ err error }

func (r *reader) fail(k string, v types.AttributeValue, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("attribute %s is %T, want %s", k, v, want)
	}
}

func (r *reader) str(m map[string]types.AttributeValue, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	s, ok := v.(*types.AttributeValueMemberS)
	if !ok {
		r.fail(k, v, "a string")
		return ""
	}
	return s.Value
}

func (r *reader) num(m map[string]types.AttributeValue, k string) int64 {
	v, ok := m[k]
	if !ok {
		return 0
	}
	n, ok := v.(*types.AttributeValueMemberN)
	if !ok {
		r.fail(k, v, "a number")
		return 0
	}
	x, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		r.fail(k, v, "a whole number")
	}
	return x
}

func (r *reader) mapOf(m map[string]types.AttributeValue, k string) map[string]types.AttributeValue {
	v, ok := m[k]
	if !ok {
		return nil
	}
	mm, ok := v.(*types.AttributeValueMemberM)
	if !ok {
		r.fail(k, v, "a map")
		return nil
	}
	return mm.Value
}

func (r *reader) channel(m map[string]types.AttributeValue, k string) *channel {
	c := r.mapOf(m, k)
	if c == nil {
		return nil
	}
	out := &channel{Type: r.str(c, "type")}
	if v, ok := c["external"]; ok {
		b, isBool := v.(*types.AttributeValueMemberBOOL)
		if !isBool {
			r.fail("external", v, "a boolean")
		} else {
			out.External = b.Value
		}
	}
	return out
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
		secs, _ := strconv.ParseInt(n.Value, 10, 64)
		expiresAt = time.Unix(secs, 0).UTC()
	}
	return true, status, expiresAt
}
