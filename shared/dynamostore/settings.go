package dynamostore

import (
	"context"
	"fmt"
	"reflect"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/settings"
)

// The settings items (the key schema is in item.go): an organisation's
// document and its audit list under one partition key.
//
//	pk = ORG#<org>#SETTINGS   sk = S              the document (kind settings)
//	                          sk = H#<version>    the change that made <version> (kind settings-change),
//	                                              <version> zero-padded to 12 digits
//
// The padding makes the entries sort by version, so that a Query of the
// H# prefix read backwards is the audit list newest first, and one of sort
// keys below H#<before> continues it before version before. The partition
// holds the document and the entries only, and S sorts after every H#: an
// item added under this partition key must sort after H# too, or the
// continuation's condition must change.
//
// None of them has an attribute an index keys on (they are in no index),
// and none has sort key P or kind process or tombstone, so the table's
// stream filter (StreamFilterPattern) lets none of their changes through
// to the stream function: a change of settings is no event of a process.
// The organisation is part of every key: another organisation's document
// or audit list is simply not there. Ids must not contain '#' (so that
// ORG#acm#SETTINGS is no prefix of another organisation's key, and no
// process's key, ORG#<org>#<type>#<id>, is a settings key).
//
// Times are Unix seconds, as the service writes them (whole seconds).
const (
	skSettings             = "S"
	skSettingsChangePrefix = "H#"
	kindSettings           = "settings"
	kindSettingsChange     = "settings-change"

	// settingsBusy is what a change of settings that kept meeting others
	// is told.
	settingsBusy = "another change of this organisation's settings is in progress; retry"
)

// The store keeps the organisations' settings and their audit list too.
var _ settings.Store = (*Store)(nil)

func settingsPK(org string) string { return "ORG#" + org + "#SETTINGS" }

func settingsKey(org string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(settingsPK(org)), attrSK: str(skSettings)}
}

// settingsChangeSK is the sort key of the audit entry of version.
func settingsChangeSK(version int64) string {
	return fmt.Sprintf("%s%012d", skSettingsChangePrefix, version)
}

// settingsItem is an organisation's document as stored: its members in
// one map attribute, named as the API's JSON names them.
type settingsItem struct {
	PK        string      `dynamodbav:"pk"`
	SK        string      `dynamodbav:"sk"`
	Kind      string      `dynamodbav:"kind"`
	Org       string      `dynamodbav:"org"`
	Version   int64       `dynamodbav:"version"`
	UpdatedAt int64       `dynamodbav:"updated_at,omitempty"`
	UpdatedBy string      `dynamodbav:"updated_by,omitempty"`
	Settings  settingsDoc `dynamodbav:"settings"`
}

// settingsDoc is the document's members. A member not set (its zero
// value) is left out; a nil Channels or Messages is left out, and an empty
// one kept empty (attributevalue omits only nil slices and maps), so that
// the document reads back as it was written.
type settingsDoc struct {
	DisplayName     string                       `dynamodbav:"display_name,omitempty"`
	DefaultLanguage string                       `dynamodbav:"default_language,omitempty"`
	Code            *settingsCode                `dynamodbav:"code,omitempty"`
	Channels        []string                     `dynamodbav:"channels,omitempty"`
	Messages        map[string]map[string]string `dynamodbav:"messages,omitempty"`
	Guard           *settingsGuard               `dynamodbav:"guard,omitempty"`
}

type settingsGuard struct {
	Mode                         string   `dynamodbav:"mode,omitempty"`
	AllowedCountries             []string `dynamodbav:"allowed_countries,omitempty"`
	MaxSendsPerHour              int64    `dynamodbav:"max_sends_per_hour,omitempty"`
	MaxSendsPerDay               int64    `dynamodbav:"max_sends_per_day,omitempty"`
	MaxSendsPerDestinationPerDay int64    `dynamodbav:"max_sends_per_destination_per_day,omitempty"`
	PrefixDigits                 int64    `dynamodbav:"prefix_digits,omitempty"`
	PrefixMaxPerHour             int64    `dynamodbav:"prefix_max_per_hour,omitempty"`
}

type settingsCode struct {
	Length     int64 `dynamodbav:"length,omitempty"`
	TTLMinutes int64 `dynamodbav:"ttl_minutes,omitempty"`
}

func toSettingsDoc(s settings.Settings) settingsDoc {
	// A deep copy: the item must not share the caller's slices and maps.
	s = s.Clone()
	d := settingsDoc{DisplayName: s.DisplayName, DefaultLanguage: s.DefaultLanguage, Channels: s.Channels, Messages: s.Messages}
	if s.CodeLength != 0 || s.CodeTTLMinutes != 0 {
		d.Code = &settingsCode{Length: int64(s.CodeLength), TTLMinutes: int64(s.CodeTTLMinutes)}
	}
	if g := s.Guard; !reflect.ValueOf(g).IsZero() {
		d.Guard = &settingsGuard{Mode: g.Mode, AllowedCountries: g.AllowedCountries, MaxSendsPerHour: int64(g.MaxSendsPerHour),
			MaxSendsPerDay: int64(g.MaxSendsPerDay), MaxSendsPerDestinationPerDay: int64(g.MaxSendsPerDestinationPerDay),
			PrefixDigits: int64(g.PrefixDigits), PrefixMaxPerHour: int64(g.PrefixMaxPerHour)}
	}
	return d
}

func (d settingsDoc) settings() settings.Settings {
	s := settings.Settings{DisplayName: d.DisplayName, DefaultLanguage: d.DefaultLanguage, Channels: d.Channels, Messages: d.Messages}
	if c := d.Code; c != nil {
		s.CodeLength, s.CodeTTLMinutes = int(c.Length), int(c.TTLMinutes)
	}
	if g := d.Guard; g != nil {
		s.Guard = settings.Guard{Mode: g.Mode, AllowedCountries: g.AllowedCountries, MaxSendsPerHour: int(g.MaxSendsPerHour),
			MaxSendsPerDay: int(g.MaxSendsPerDay), MaxSendsPerDestinationPerDay: int(g.MaxSendsPerDestinationPerDay),
			PrefixDigits: int(g.PrefixDigits), PrefixMaxPerHour: int(g.PrefixMaxPerHour)}
	}
	return s
}

func decodeSettings(av map[string]types.AttributeValue) (settings.Stored, error) {
	var it settingsItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return settings.Stored{}, fmt.Errorf("unmarshal settings: %w", err)
	}
	if it.Kind != kindSettings {
		return settings.Stored{}, fmt.Errorf("unmarshal settings: item of kind %q", it.Kind)
	}
	return settings.Stored{Settings: it.Settings.settings(), Version: it.Version, UpdatedAt: fromUnix(it.UpdatedAt), UpdatedBy: it.UpdatedBy}, nil
}

// settingsChangeItem is one entry of an organisation's audit list.
type settingsChangeItem struct {
	PK        string   `dynamodbav:"pk"`
	SK        string   `dynamodbav:"sk"`
	Kind      string   `dynamodbav:"kind"`
	Org       string   `dynamodbav:"org"`
	Version   int64    `dynamodbav:"version"`
	At        int64    `dynamodbav:"at"`
	ByKind    string   `dynamodbav:"by_kind,omitempty"`
	BySub     string   `dynamodbav:"by_sub,omitempty"`
	RequestID string   `dynamodbav:"request_id,omitempty"`
	Fields    []string `dynamodbav:"fields,omitempty"`
}

func decodeSettingsChange(av map[string]types.AttributeValue) (settings.Change, error) {
	var it settingsChangeItem
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return settings.Change{}, fmt.Errorf("unmarshal settings change: %w", err)
	}
	if it.Kind != kindSettingsChange {
		return settings.Change{}, fmt.Errorf("unmarshal settings change: item of kind %q", it.Kind)
	}
	return settings.Change{Version: it.Version, At: fromUnix(it.At), ByKind: identification.CallerKind(it.ByKind),
		BySub: it.BySub, RequestID: it.RequestID, Fields: it.Fields}, nil
}

// Settings reads org's document in one strongly consistent GetItem;
// KindNotFound when it was never written.
func (s *Store) Settings(ctx context.Context, org string) (settings.Stored, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{TableName: s.table, Key: settingsKey(org), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return settings.Stored{}, classify("get settings", err)
	}
	if len(out.Item) == 0 {
		return settings.Stored{}, identification.Errorf(identification.KindNotFound, "this organisation's settings were never written")
	}
	return decodeSettings(out.Item)
}

// PutSettings writes st's document as version from+1 and its audit entry
// c (as the change to version from+1, whatever the versions st and c
// carry) in one TransactWriteItems: the document on the condition that it
// is at version from (from 0: that it does not exist), the entry on the
// condition that there is none of its version. KindPrecondition when the
// document is not at version from; a transaction that met another one is
// tried again (transactRetrying), and is then refused on its condition
// when the other one changed the document.
func (s *Store) PutSettings(ctx context.Context, org string, st settings.Stored, from int64, c settings.Change) error {
	if from < 0 {
		return fmt.Errorf("put settings: from version %d", from)
	}
	version := from + 1
	doc, err := attributevalue.MarshalMap(settingsItem{
		PK: settingsPK(org), SK: skSettings, Kind: kindSettings, Org: org,
		Version: version, UpdatedAt: unix(st.UpdatedAt), UpdatedBy: st.UpdatedBy, Settings: toSettingsDoc(st.Settings),
	})
	if err != nil {
		return fmt.Errorf("marshal settings: %w", err)
	}
	entry, err := attributevalue.MarshalMap(settingsChangeItem{
		PK: settingsPK(org), SK: settingsChangeSK(version), Kind: kindSettingsChange, Org: org,
		Version: version, At: unix(c.At), ByKind: string(c.ByKind), BySub: c.BySub, RequestID: c.RequestID,
		Fields: slices.Clone(c.Fields),
	})
	if err != nil {
		return fmt.Errorf("marshal settings change: %w", err)
	}
	put := &types.Put{TableName: s.table, Item: doc,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK}}
	if from > 0 {
		put.ConditionExpression = aws.String("#version = :from")
		put.ExpressionAttributeNames = map[string]string{"#version": attrVersion}
		put.ExpressionAttributeValues = map[string]types.AttributeValue{":from": number(from)}
	}
	items := []types.TransactWriteItem{
		{Put: put},
		{Put: &types.Put{TableName: s.table, Item: entry,
			ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
			ExpressionAttributeNames: map[string]string{"#pk": attrPK}}},
	}
	reasons, err := s.transactRetrying(ctx, items, settingsBusy)
	if err != nil {
		return fmt.Errorf("put settings: %w", err)
	}
	switch {
	case reasons == nil:
		return nil
	case reasonCode(reasons[0]) == "ConditionalCheckFailed":
		return identification.Errorf(identification.KindPrecondition,
			"the settings changed since they were read: read them again, apply your change and send it with the new ETag")
	case reasonCode(reasons[1]) == "ConditionalCheckFailed":
		// The document was at version from, yet the audit list holds the
		// change to from+1: the store is not as this code writes it.
		return fmt.Errorf("put settings: the audit list of %s already holds version %d", org, version)
	}
	return fmt.Errorf("put settings: transaction cancelled: %s", reasonCodes(reasons))
}

// SettingsHistory reads a page of org's audit list, newest first, in one
// strongly consistent Query of limit+1 items (the one more says whether
// older ones follow): from the newest, or before version before. A page
// the Query's 1 MB cut short says more follow too.
func (s *Store) SettingsHistory(ctx context.Context, org string, limit int, before int64) ([]settings.Change, bool, error) {
	if limit <= 0 || before < 0 {
		return nil, false, fmt.Errorf("query settings history: limit %d before %d", limit, before)
	}
	cond := "#pk = :pk AND begins_with(#sk, :sk)"
	sk := skSettingsChangePrefix
	if before > 0 {
		cond = "#pk = :pk AND #sk < :sk"
		sk = settingsChangeSK(before)
	}
	out, err := s.client.Query(ctx, &dynamodb.QueryInput{
		TableName:                 s.table,
		ConsistentRead:            aws.Bool(true),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  map[string]string{"#pk": attrPK, "#sk": attrSK},
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(settingsPK(org)), ":sk": str(sk)},
		ScanIndexForward:          aws.Bool(false),
		Limit:                     aws.Int32(int32(min(limit, 1<<30) + 1)),
	})
	if err != nil {
		return nil, false, classify("query settings history", err)
	}
	more := len(out.Items) > limit || out.LastEvaluatedKey != nil
	page := make([]settings.Change, 0, min(len(out.Items), limit))
	for _, av := range out.Items[:min(len(out.Items), limit)] {
		c, err := decodeSettingsChange(av)
		if err != nil {
			return nil, false, err
		}
		page = append(page, c)
	}
	return page, more, nil
}
