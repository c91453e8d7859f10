package dynamostore

import (
	"fmt"
	"hash/fnv"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
)

// The key schema. Every item has a partition key naming its organisation
// and process, a sort key naming what it is, and a kind:
//
//	pk = ORG#<org>#<TYPE>#<id>   sk = P         the process (kind process), or its tombstone (kind tombstone)
//	                             sk = D#<seq>   the delivery claim of its <seq>-th code (kind delivery; bookkeeping.go)
//	                             sk = B#pub     the last version whose events were published (kind published; bookkeeping.go)
//	pk = ORG#<org>#IDEM#<hash>   sk = I         an idempotency record
//	pk = ORG#<org>#WEBHOOKS      sk = E#<id>    a webhook endpoint (kind webhook; webhooks.go)
//	                             sk = N         how many webhook endpoints the org has (kind webhook-count)
//	pk = ORG#<org>#WEBHOOK#<endpoint id>
//	                             sk = D#<delivery id>  a delivery in the endpoint's log (kind webhook-delivery)
//	pk = ORG#<org>#SETTINGS      sk = S         the organisation's settings document (kind settings; settings.go)
//	                             sk = H#<ver>   the change that made version <ver>, zero-padded to 12 digits (kind settings-change)
//	pk = ORG#<org>#GUARD#<counter key>  sk = C  a sending guard counter (kind guard-counter; guard.go)
//	pk = ORG#<org>#GUARDEVENTS#<shard>  sk = E#<time>#<rand>  a guard event (kind guard-event; guard.go)
//	pk = ORG#<org>#STATS#<shard>        sk = H#<yyyymmddhh>   an hour's statistics (kind stats; stats.go)
//
// Only process items have sort key P and only they carry an index's key
// attributes; they and a guard event's INSERT are all that reach the
// stream function (StreamFilterPatterns).
//
// The table's key cannot change once deployed, so every kind of item the
// product will keep has its place here already.
const (
	skProcess     = "P"
	kindProcess   = "process"
	kindTombstone = "tombstone"
)

// Attribute names the conditions and updates refer to.
const (
	attrPK              = "pk"
	attrSK              = "sk"
	attrKind            = "kind"
	attrStatus          = "status"
	attrExpiresAt       = "expires_at"
	attrCreatedAt       = "created_at"
	attrUpdatedAt       = "updated_at"
	attrEndedAt         = "ended_at"
	attrCompletedAt     = "completed_at"
	attrVersion         = "version"
	attrCancelReason    = "cancel_reason"
	attrFailureReason   = "failure_reason"
	attrEndedBy         = "ended_user_agent"
	attrTTL             = "ttl"
	attrOpenShard       = "open_shard"
	attrOpenExpiresAt   = "open_expires_at"
	attrLastWrite       = "last_write"
	attrCodesSent       = "codes_sent"
	attrAttempts        = "attempts"
	attrCodeHash        = "code_hash"
	attrPrevCodeHash    = "prev_code_hash"
	attrCodeKey         = "code_key"
	attrCodeNonce       = "code_nonce"
	attrCodeExpiresAt   = "code_expires_at"
	attrLastCodeAt      = "last_code_at"
	attrLastCodeMs      = "last_code_ms"
	attrCodeValidated   = "code_validated"
	attrGuesses         = "guesses"
	attrDeliveryStatus  = "delivery_status"
	attrDeliveryTries   = "delivery_attempts"
	attrDeliveryTried   = "delivery_last_tried"
	attrDeliveryMessage = "delivery_message_id"
	attrCurrentStep     = "current_step"
	attrOTPStep         = "otp_step"
	attrNeedsTwoFactor  = "needs_two_factor"
	attrCodeExternal    = "code_external"
	attrDevice          = "device"
	attrCompletedDevice = "completed_device"
	attrAgent           = "agent"
	attrHistory         = "history"
	attrDeletedAt       = "deleted_at"
	attrDeletedBy       = "deleted_by"
	attrDecision        = "document_decision"
)

// item is a process as stored: one tagged struct, converted by the SDK's
// attributevalue in both directions, so that a field cannot be written and
// not read back (item_test.go fails on any field that does not round-trip).
// Times are Unix seconds so conditions can compare them.
type item struct {
	PK          string `dynamodbav:"pk"`
	SK          string `dynamodbav:"sk"`
	Kind        string `dynamodbav:"kind"`
	Org         string `dynamodbav:"org"`
	ID          string `dynamodbav:"id"`
	Type        string `dynamodbav:"type"`
	Status      string `dynamodbav:"status"`
	CreatedAt   int64  `dynamodbav:"created_at"`
	UpdatedAt   int64  `dynamodbav:"updated_at"`
	ExpiresAt   int64  `dynamodbav:"expires_at"`
	EndedAt     int64  `dynamodbav:"ended_at,omitempty"`
	CompletedAt int64  `dynamodbav:"completed_at,omitempty"`
	Version     int64  `dynamodbav:"version"`
	TTL         int64  `dynamodbav:"ttl"`
	LastWrite   string `dynamodbav:"last_write,omitempty"`
	// IdemKey is the hash of the Idempotency-Key the process was created
	// with: a delete finds the key's record by it, to erase the answer the
	// record keeps (the actor's data).
	IdemKey       string `dynamodbav:"idem_key,omitempty"`
	OpenShard     string `dynamodbav:"open_shard,omitempty"`
	OpenExpiresAt int64  `dynamodbav:"open_expires_at,omitempty"`

	Actor          *actorItem   `dynamodbav:"actor,omitempty"`
	TwoFactorType  string       `dynamodbav:"two_factor_type,omitempty"`
	NeedsTwoFactor string       `dynamodbav:"needs_two_factor,omitempty"`
	CodeExternal   bool         `dynamodbav:"code_external,omitempty"`
	Channel        *channelItem `dynamodbav:"channel,omitempty"`
	Sequence       []stepItem   `dynamodbav:"sequence,omitempty"`
	CancelReason   string       `dynamodbav:"cancel_reason,omitempty"`
	FailureReason  string       `dynamodbav:"failure_reason,omitempty"`
	CreatedBy      string       `dynamodbav:"created_user_agent,omitempty"`
	EndedBy        string       `dynamodbav:"ended_user_agent,omitempty"`

	// The code: its state, and its secret side (hash, key, nonce, the
	// guesses counted against it).
	CodesSent     int64 `dynamodbav:"codes_sent,omitempty"`
	Attempts      int64 `dynamodbav:"attempts,omitempty"`
	CodeExpiresAt int64 `dynamodbav:"code_expires_at,omitempty"`
	LastCodeAt    int64 `dynamodbav:"last_code_at,omitempty"`
	// LastCodeMs is LastCodeAt to the millisecond, which the spacing
	// between codes is compared on (items written before it have only
	// LastCodeAt).
	LastCodeMs        int64  `dynamodbav:"last_code_ms,omitempty"`
	CodeValidated     bool   `dynamodbav:"code_validated,omitempty"`
	DeliveryStatus    string `dynamodbav:"delivery_status,omitempty"`
	DeliveryAttempts  int64  `dynamodbav:"delivery_attempts,omitempty"`
	DeliveryLastTried int64  `dynamodbav:"delivery_last_tried,omitempty"`
	DeliveryMessageID string `dynamodbav:"delivery_message_id,omitempty"`
	// DeliveryClaimedAt and PublishedVersion are the stream processor's
	// bookkeeping as an earlier version of the store wrote it on the
	// process item: read, never written (it is in items of its own now,
	// bookkeeping.go); never part of the process.
	DeliveryClaimedAt int64    `dynamodbav:"delivery_claimed_at,omitempty"`
	PublishedVersion  int64    `dynamodbav:"published_version,omitempty"`
	CodeHash          string   `dynamodbav:"code_hash,omitempty"`
	PrevCodeHash      string   `dynamodbav:"prev_code_hash,omitempty"`
	CodeKey           string   `dynamodbav:"code_key,omitempty"`
	CodeNonce         string   `dynamodbav:"code_nonce,omitempty"`
	Guesses           []string `dynamodbav:"guesses,omitempty"`

	CurrentStep     int64       `dynamodbav:"current_step,omitempty"`
	OTPStep         int64       `dynamodbav:"otp_step,omitempty"`
	Device          *deviceItem `dynamodbav:"device,omitempty"`
	CompletedDevice *deviceItem `dynamodbav:"completed_device,omitempty"`
	Agent           *agentItem  `dynamodbav:"agent,omitempty"`
	// History is every change, oldest first, appended by the write that
	// makes the change.
	History []historyItem `dynamodbav:"history,omitempty"`

	// A tombstone's own fields (kind tombstone).
	DeletedAt int64  `dynamodbav:"deleted_at,omitempty"`
	DeletedBy string `dynamodbav:"deleted_by,omitempty"`

	// The listing indexes' keys (list.go): the position, and one partition
	// value per facet (the organisation's and its status's written to one
	// of ListShards shards by id). The actor facets hold keyed hashes,
	// never values.
	ListPosition string `dynamodbav:"ls,omitempty"`
	ListOrg      string `dynamodbav:"l_org,omitempty"`
	ListEmail    string `dynamodbav:"l_email,omitempty"`
	ListPhone    string `dynamodbav:"l_phone,omitempty"`
	ListDocument string `dynamodbav:"l_document,omitempty"`

	// The evidence images, one attribute per kind (an update can set a
	// top-level attribute whatever else the item holds), and the decision
	// on the document.
	EvidenceFront  *evidenceItem `dynamodbav:"evidence_document_front,omitempty"`
	EvidenceBack   *evidenceItem `dynamodbav:"evidence_document_back,omitempty"`
	EvidenceSelfie *evidenceItem `dynamodbav:"evidence_selfie,omitempty"`
	EvidenceAgent  *evidenceItem `dynamodbav:"evidence_agent_image,omitempty"`
	Decision       *decisionItem `dynamodbav:"document_decision,omitempty"`
}

type evidenceItem struct {
	Key         string `dynamodbav:"key"`
	VersionID   string `dynamodbav:"version_id,omitempty"`
	ContentType string `dynamodbav:"content_type"`
	Size        int64  `dynamodbav:"size"`
	At          int64  `dynamodbav:"at"`
	ByKind      string `dynamodbav:"by_kind,omitempty"`
	BySub       string `dynamodbav:"by_sub,omitempty"`
}

type decisionItem struct {
	Approved bool   `dynamodbav:"approved"`
	Reason   string `dynamodbav:"reason,omitempty"`
	ByKind   string `dynamodbav:"by_kind"`
	BySub    string `dynamodbav:"by_sub,omitempty"`
	At       int64  `dynamodbav:"at"`
}

// evidenceAttr is the attribute of an evidence kind.
func evidenceAttr(k identification.EvidenceKind) string {
	return "evidence_" + strings.ToLower(string(k))
}

// evidenceSlots are the item's evidence fields by kind.
func (it *item) evidenceSlots() map[identification.EvidenceKind]**evidenceItem {
	return map[identification.EvidenceKind]**evidenceItem{
		identification.EvidenceDocumentFront: &it.EvidenceFront, identification.EvidenceDocumentBack: &it.EvidenceBack,
		identification.EvidenceSelfie: &it.EvidenceSelfie, identification.EvidenceAgentImage: &it.EvidenceAgent,
	}
}

func toEvidence(e identification.Evidence) *evidenceItem {
	return &evidenceItem{Key: e.Key, VersionID: e.VersionID, ContentType: e.ContentType, Size: e.Size, At: unix(e.At), ByKind: string(e.ByKind), BySub: e.BySub}
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

type channelItem struct {
	Type     string `dynamodbav:"type"`
	External bool   `dynamodbav:"external"`
}

type stepItem struct {
	IdentificationType string       `dynamodbav:"identification_type"`
	TwoFactorType      string       `dynamodbav:"two_factor_type,omitempty"`
	Channel            *channelItem `dynamodbav:"channel,omitempty"`
	ProviderType       string       `dynamodbav:"provider_type,omitempty"`
}

type deviceItem struct {
	InstallationID string `dynamodbav:"installation_id"`
	Fingerprint    string `dynamodbav:"fingerprint"`
	UserAgent      string `dynamodbav:"user_agent,omitempty"`
	IP             string `dynamodbav:"ip,omitempty"`
	Location       string `dynamodbav:"location,omitempty"`
}

type historyItem struct {
	At        int64  `dynamodbav:"at"`
	Action    string `dynamodbav:"action"`
	To        string `dynamodbav:"to,omitempty"`
	ByKind    string `dynamodbav:"by_kind,omitempty"`
	BySub     string `dynamodbav:"by_sub,omitempty"`
	Reason    string `dynamodbav:"reason,omitempty"`
	RequestID string `dynamodbav:"request_id,omitempty"`
}

func toHistory(h identification.HistoryEntry) historyItem {
	return historyItem{At: unix(h.At), Action: h.Action, To: string(h.To), ByKind: string(h.ByKind), BySub: h.BySub, Reason: h.Reason, RequestID: h.RequestID}
}

func fromHistory(h historyItem) identification.HistoryEntry {
	return identification.HistoryEntry{At: fromUnix(h.At), Action: h.Action, To: identification.Status(h.To),
		ByKind: identification.CallerKind(h.ByKind), BySub: h.BySub, Reason: h.Reason, RequestID: h.RequestID}
}

type agentItem struct {
	Name             string `dynamodbav:"name"`
	Sub              string `dynamodbav:"sub,omitempty"`
	EvidenceMetadata string `dynamodbav:"evidence_metadata,omitempty"`
	At               int64  `dynamodbav:"at"`
}

// partitionKey is the partition key of ref: the organisation is always
// part of it.
func partitionKey(ref identification.Ref) string {
	return "ORG#" + ref.Org + "#" + string(ref.Type) + "#" + ref.ID
}

func keyAttr(ref identification.Ref) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		attrPK: &types.AttributeValueMemberS{Value: partitionKey(ref)},
		attrSK: &types.AttributeValueMemberS{Value: skProcess},
	}
}

// shardOf spreads open processes over the index's partitions by id.
func shardOf(id string, shards int) string {
	h := fnv.New32a()
	h.Write([]byte(id))
	return shardName(int(h.Sum32() % uint32(shards)))
}

func shardName(shard int) string { return fmt.Sprintf("OPEN#%02d", shard) }

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// lastCodeAt is when the item's last code was issued, to the millisecond
// where it was recorded so.
func lastCodeAt(it item) time.Time {
	if it.LastCodeMs != 0 {
		return time.UnixMilli(it.LastCodeMs).UTC()
	}
	return fromUnix(it.LastCodeAt)
}

func fromUnix(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

func unixPtr(t *time.Time) int64 {
	if t == nil {
		return 0
	}
	return t.Unix()
}

func timePtr(n int64) *time.Time {
	if n == 0 {
		return nil
	}
	t := time.Unix(n, 0).UTC()
	return &t
}

// toItem is i as stored, with code as its code material.
func toItem(i *identification.Identification, code *identification.CodeMaterial, shards int, retention time.Duration) item {
	it := item{
		PK: partitionKey(i.Ref()), SK: skProcess, Kind: kindProcess,
		Org: i.OrgID, ID: i.ID, Type: string(i.Type), Status: string(i.Status),
		CreatedAt: i.CreatedAt.Unix(), UpdatedAt: i.UpdatedAt.Unix(), ExpiresAt: i.ExpiresAt.Unix(),
		EndedAt: unixPtr(i.EndedAt), CompletedAt: unixPtr(i.CompletedAt),
		Version: i.Version, TwoFactorType: i.TwoFactorType,
		CancelReason: i.CancelReason, FailureReason: i.FailureReason,
		CreatedBy: i.CreatedUserAgent, EndedBy: i.EndedUserAgent,
		CurrentStep: int64(i.CurrentStep), OTPStep: int64(i.StepIndex(identification.StepOTP)),
		Device: toDevice(i.Device), CompletedDevice: toDevice(i.CompletedDevice),
		Actor: &actorItem{Name: i.Actor.Name, LastName: i.Actor.LastName, Email: i.Actor.Email, Language: i.Actor.Language},
	}
	// Derived attributes the flow's guards compare against: whether the
	// code needs a second factor, whether the organisation delivers it.
	if tf := identification.TwoFactorTypeOf(i); tf == "DOCUMENT_NUMBER" || tf == "EMAIL" {
		it.NeedsTwoFactor = tf
	}
	if ch := identification.OTPChannel(i); ch != nil && ch.External {
		it.CodeExternal = true
	}
	keep := identification.KeepingOf(i, retention)
	it.TTL = keep.Until.Unix()
	if keep.Open {
		it.OpenShard = shardOf(i.ID, shards)
		it.OpenExpiresAt = keep.OpenUntil.Unix()
	}
	if d := i.Actor.IdentityDocument; d != nil {
		it.Actor.IdentityDocument = &identityDocItem{DocumentNumber: d.DocumentNumber, DocumentType: d.DocumentType, Country: d.Country}
	}
	if m := i.Actor.MSISDN; m != nil {
		it.Actor.MSISDN = &msisdnItem{PhoneNumber: m.PhoneNumber, CountryCode: m.CountryCode}
	}
	it.Channel = toChannel(i.Channel)
	for _, st := range i.Sequence {
		s := stepItem{IdentificationType: st.IdentificationType}
		if o := st.OTPStep; o != nil {
			s.TwoFactorType = o.TwoFactorType
			s.Channel = toChannel(o.Channel)
		}
		if d := st.IdentityDocumentStep; d != nil {
			s.ProviderType = d.ProviderType
		}
		it.Sequence = append(it.Sequence, s)
	}
	if o := i.OTP; o != nil {
		it.CodesSent, it.Attempts = int64(o.CodesSent), int64(o.Attempts)
		it.CodeExpiresAt, it.LastCodeAt = unix(o.CodeExpiresAt), unix(o.LastCodeAt)
		if !o.LastCodeAt.IsZero() {
			it.LastCodeMs = o.LastCodeAt.UnixMilli()
		}
		it.CodeValidated = o.Validated
		it.DeliveryStatus, it.DeliveryAttempts = o.Delivery.Status, int64(o.Delivery.Attempts)
		it.DeliveryLastTried, it.DeliveryMessageID = unix(o.Delivery.LastTried), o.Delivery.MessageID
	}
	if code != nil {
		it.CodeHash, it.CodeKey, it.CodeNonce, it.PrevCodeHash = code.Hash, code.KeyID, code.Nonce, code.Previous
		it.Guesses = append([]string(nil), code.Guesses...)
	}
	if a := i.Agent; a != nil {
		it.Agent = &agentItem{Name: a.Name, Sub: a.Sub, EvidenceMetadata: a.EvidenceMetadata, At: unix(a.At)}
	}
	for _, h := range i.History {
		it.History = append(it.History, toHistory(h))
	}
	slots := it.evidenceSlots()
	for _, ev := range i.Evidence {
		*slots[ev.Kind] = toEvidence(ev)
	}
	if d := i.Decision; d != nil {
		it.Decision = &decisionItem{Approved: d.Approved, Reason: d.Reason, ByKind: string(d.ByKind), BySub: d.BySub, At: unix(d.At)}
	}
	facet := facetPrefix(i.OrgID, i.Type)
	it.ListPosition = identification.Position(i)
	it.ListOrg = orgFacet(i.OrgID, i.Type, i.ID)
	it.ListEmail = facetOf(facet, i.ActorKeys.Email)
	it.ListPhone = facetOf(facet, i.ActorKeys.Phone)
	it.ListDocument = facetOf(facet, i.ActorKeys.Document)
	return it
}

func toChannel(c *identification.Channel) *channelItem {
	if c == nil {
		return nil
	}
	return &channelItem{Type: c.Type, External: c.External}
}

func toDevice(d *identification.Device) *deviceItem {
	if d == nil {
		return nil
	}
	return &deviceItem{InstallationID: d.InstallationID, Fingerprint: d.Fingerprint, UserAgent: d.UserAgent, IP: d.IP, Location: d.Location}
}

func fromDevice(d *deviceItem) *identification.Device {
	if d == nil {
		return nil
	}
	return &identification.Device{InstallationID: d.InstallationID, Fingerprint: d.Fingerprint, UserAgent: d.UserAgent, IP: d.IP, Location: d.Location}
}

func fromChannel(c *channelItem) *identification.Channel {
	if c == nil {
		return nil
	}
	return &identification.Channel{Type: c.Type, External: c.External}
}

// fromItem is the process it holds, and its code material (nil when none).
func fromItem(it item) (*identification.Identification, *identification.CodeMaterial) {
	i := &identification.Identification{
		ID: it.ID, OrgID: it.Org, Type: identification.Type(it.Type), Status: identification.Status(it.Status),
		CreatedAt: fromUnix(it.CreatedAt), UpdatedAt: fromUnix(it.UpdatedAt), ExpiresAt: fromUnix(it.ExpiresAt),
		EndedAt: timePtr(it.EndedAt), CompletedAt: timePtr(it.CompletedAt),
		Version: it.Version, TwoFactorType: it.TwoFactorType,
		CancelReason: it.CancelReason, FailureReason: it.FailureReason,
		CreatedUserAgent: it.CreatedBy, EndedUserAgent: it.EndedBy,
		CurrentStep: int(it.CurrentStep), Device: fromDevice(it.Device), CompletedDevice: fromDevice(it.CompletedDevice),
		Channel: fromChannel(it.Channel),
	}
	if a := it.Actor; a != nil {
		i.Actor = identification.Actor{Name: a.Name, LastName: a.LastName, Email: a.Email, Language: a.Language}
		if d := a.IdentityDocument; d != nil {
			i.Actor.IdentityDocument = &identification.IdentityDocument{DocumentNumber: d.DocumentNumber, DocumentType: d.DocumentType, Country: d.Country}
		}
		if m := a.MSISDN; m != nil {
			i.Actor.MSISDN = &identification.MSISDN{PhoneNumber: m.PhoneNumber, CountryCode: m.CountryCode}
		}
	}
	for _, s := range it.Sequence {
		st := identification.Step{IdentificationType: s.IdentificationType}
		if s.IdentificationType == identification.StepOTP {
			st.OTPStep = &identification.OTPStep{TwoFactorType: s.TwoFactorType, Channel: fromChannel(s.Channel)}
		}
		if s.ProviderType != "" {
			st.IdentityDocumentStep = &identification.IdentityDocumentStep{ProviderType: s.ProviderType}
		}
		i.Sequence = append(i.Sequence, st)
	}
	i.SyncSteps()
	if it.CodesSent > 0 || it.Attempts > 0 {
		i.OTP = &identification.OTPState{
			CodesSent: int(it.CodesSent), Attempts: int(it.Attempts),
			CodeExpiresAt: fromUnix(it.CodeExpiresAt), LastCodeAt: lastCodeAt(it), Validated: it.CodeValidated,
			Delivery: identification.Delivery{Status: deliveryStatusOf(it.DeliveryStatus), Attempts: int(it.DeliveryAttempts),
				LastTried: fromUnix(it.DeliveryLastTried), MessageID: it.DeliveryMessageID},
		}
	}
	if a := it.Agent; a != nil {
		i.Agent = &identification.AgentRecord{Name: a.Name, Sub: a.Sub, EvidenceMetadata: a.EvidenceMetadata, At: fromUnix(a.At)}
	}
	for _, h := range it.History {
		i.History = append(i.History, fromHistory(h))
	}
	slots := it.evidenceSlots()
	for _, k := range identification.EvidenceKinds {
		if ev := *slots[k]; ev != nil {
			i.Evidence = append(i.Evidence, identification.Evidence{Kind: k, Key: ev.Key, VersionID: ev.VersionID, ContentType: ev.ContentType, Size: ev.Size,
				At: fromUnix(ev.At), ByKind: identification.CallerKind(ev.ByKind), BySub: ev.BySub})
		}
	}
	if d := it.Decision; d != nil {
		i.Decision = &identification.DocumentDecision{Approved: d.Approved, Reason: d.Reason, ByKind: identification.CallerKind(d.ByKind), BySub: d.BySub, At: fromUnix(d.At)}
	}
	facet := facetPrefix(it.Org, identification.Type(it.Type))
	i.ActorKeys = identification.ActorKeys{Email: strings.TrimPrefix(it.ListEmail, facet),
		Phone: strings.TrimPrefix(it.ListPhone, facet), Document: strings.TrimPrefix(it.ListDocument, facet)}
	var code *identification.CodeMaterial
	if it.CodeHash != "" {
		code = &identification.CodeMaterial{Hash: it.CodeHash, KeyID: it.CodeKey, Nonce: it.CodeNonce, Guesses: it.Guesses, Previous: it.PrevCodeHash}
	}
	i.Unsettled = identification.SettlementOf(i, code)
	return i, code
}

// marshalItem writes it as DynamoDB attributes; empty optional values are
// left out.
func marshalItem(it item) (map[string]types.AttributeValue, error) {
	av, err := attributevalue.MarshalMap(it)
	if err != nil {
		return nil, fmt.Errorf("marshal item: %w", err)
	}
	return av, nil
}

// decodeItem is the one decoder of stored items, used by the store and by
// whatever reads the table's stream: an attribute of the wrong type is an
// error (the item was not written by this store).
func decodeItem(av map[string]types.AttributeValue) (item, error) {
	var it item
	if err := attributevalue.UnmarshalMap(av, &it); err != nil {
		return item{}, fmt.Errorf("unmarshal item: %w", err)
	}
	return it, nil
}

// unmarshalItem reads a process item written by marshalItem.
func unmarshalItem(av map[string]types.AttributeValue) (*identification.Identification, *identification.CodeMaterial, error) {
	it, err := decodeItem(av)
	if err != nil {
		return nil, nil, err
	}
	i, code := fromItem(it)
	return i, code, nil
}

// tombstoneKeeps are the attributes a tombstone keeps of its process: who
// it was (keys, org, id, type), the status it had, the end of its
// retention, and the tombstone's own fields. Everything else, the actor's
// data first, goes.
var tombstoneKeeps = map[string]bool{
	attrPK: true, attrSK: true, attrKind: true, "org": true, "id": true, "type": true, attrStatus: true,
	attrTTL: true, attrLastWrite: true, attrVersion: true, attrUpdatedAt: true,
	attrDeletedAt: true, attrDeletedBy: true,
}

// tombstoneRemoves lists every other attribute of item, read from its tags
// so that a field added to item is removed by a delete without anyone
// remembering to list it, and the attributes items written by earlier
// releases may still carry (legacyAttrs).
var tombstoneRemoves = func() []string {
	out := slices.Clone(legacyAttrs)
	t := reflect.TypeOf(item{})
	for n := 0; n < t.NumField(); n++ {
		name, _, _ := strings.Cut(t.Field(n).Tag.Get("dynamodbav"), ",")
		if !tombstoneKeeps[name] {
			out = append(out, name)
		}
	}
	return out
}()

// deliveryStatusOf is the delivery status as the domain knows it: a claimed
// send is still pending until its outcome is written.
func deliveryStatusOf(stored string) string {
	if stored == deliverySending {
		return identification.DeliveryPending
	}
	return stored
}
