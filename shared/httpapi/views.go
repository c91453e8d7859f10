package httpapi

import (
	"encoding/json"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// The views are the API's response bodies, built field by field from the
// domain: nothing added to a domain type reaches a client unless a view
// names it (views_test.go proves a new field shows up nowhere), so the code
// hash, the device of a call or a store's bookkeeping cannot leak by a
// forgotten tag.

type processView struct {
	ID              string                `json:"id"`
	OrgID           string                `json:"org_id"`
	Type            identification.Type   `json:"type"`
	Status          identification.Status `json:"status"`
	CreatedAt       time.Time             `json:"created_at"`
	UpdatedAt       time.Time             `json:"updated_at"`
	ExpiresAt       time.Time             `json:"expires_at"`
	EndedAt         *time.Time            `json:"ended_at,omitempty"`
	CompletedAt     *time.Time            `json:"completed_at,omitempty"`
	Actor           actorView             `json:"actor"`
	TwoFactorType   string                `json:"two_factor_type,omitempty"`
	Channel         *channelView          `json:"channel,omitempty"`
	Sequence        []stepView            `json:"sequence,omitempty"`
	CancelReason    *string               `json:"cancel_reason,omitempty"`
	FailureReason   string                `json:"failure_reason,omitempty"`
	OTP             *otpView              `json:"otp,omitempty"`
	Awaiting        []string              `json:"awaiting,omitempty"`
	Evidence        []string              `json:"evidence,omitempty"`
	Device          *deviceView           `json:"device,omitempty"`
	CompletedDevice *deviceView           `json:"completed_device,omitempty"`
	Version         int64                 `json:"version"`
	// OTPCode and CodeExpiresAt are set on a create's answer only, when the
	// organisation delivers the code itself.
	OTPCode       string     `json:"otp_code,omitempty"`
	CodeExpiresAt *time.Time `json:"code_expires_at,omitempty"`
}

type actorView struct {
	Name             string                `json:"name"`
	LastName         string                `json:"last_name,omitempty"`
	IdentityDocument *identityDocumentView `json:"identity_document,omitempty"`
	Email            string                `json:"email,omitempty"`
	MSISDN           *msisdnView           `json:"msisdn,omitempty"`
	Language         string                `json:"language,omitempty"`
}

// msisdnView is a phone number: phone_number is written as a JSON number,
// its documented type (MarshalJSON).
type msisdnView struct {
	PhoneNumber string
	CountryCode string
}

// MarshalJSON writes phone_number as a JSON number. Validated values
// (digits, no leading zero) are written directly; anything else goes
// through encoding/json as strings, so the output is always JSON.
func (m msisdnView) MarshalJSON() ([]byte, error) {
	if !isDigits(m.PhoneNumber) || m.PhoneNumber[0] == '0' || !isDigits(m.CountryCode) {
		return json.Marshal(struct {
			PhoneNumber string `json:"phone_number"`
			CountryCode string `json:"country_code"`
		}{m.PhoneNumber, m.CountryCode})
	}
	b := make([]byte, 0, 48+len(m.PhoneNumber)+len(m.CountryCode))
	b = append(b, `{"phone_number":`...)
	b = append(b, m.PhoneNumber...)
	b = append(b, `,"country_code":"`...)
	b = append(b, m.CountryCode...)
	return append(b, `"}`...), nil
}

type identityDocumentView struct {
	DocumentNumber string `json:"document_number"`
	DocumentType   string `json:"document_type"`
	Country        string `json:"country,omitempty"`
}

type channelView struct {
	Type     string `json:"type"`
	External bool   `json:"external"`
}

type stepView struct {
	IdentificationType   string                    `json:"identification_type"`
	Status               string                    `json:"status"`
	OTPStep              *otpStepView              `json:"otp_step,omitempty"`
	IdentityDocumentStep *identityDocumentStepView `json:"identity_document_step,omitempty"`
	OTP                  *otpView                  `json:"otp,omitempty"`
	Agent                *agentView                `json:"agent,omitempty"`
	// Evidence are the kinds of image recorded for the step; Decision is
	// the document's (APPROVED or REJECTED).
	Evidence []string `json:"evidence,omitempty"`
	Decision string   `json:"decision,omitempty"`
}

// evidenceKinds are the kinds among kinds that i has an image of, in the
// order given.
func evidenceKinds(i *identification.Identification, kinds ...identification.EvidenceKind) []string {
	var out []string
	for _, k := range kinds {
		if i.EvidenceOf(k) != nil {
			out = append(out, string(k))
		}
	}
	return out
}

type otpStepView struct {
	TwoFactorType string       `json:"two_factor_type,omitempty"`
	Channel       *channelView `json:"channel"`
}

type identityDocumentStepView struct {
	ProviderType string `json:"provider_type"`
}

type otpView struct {
	CodesSent     int          `json:"codes_sent"`
	MaxCodes      int          `json:"max_codes"`
	Attempts      int          `json:"attempts"`
	AttemptsLeft  int          `json:"attempts_left"`
	CodeExpiresAt *time.Time   `json:"code_expires_at,omitempty"`
	Delivery      deliveryView `json:"delivery"`
}

type deliveryView struct {
	Status    string     `json:"status"`
	Attempts  int        `json:"attempts"`
	LastTried *time.Time `json:"last_tried_at,omitempty"`
}

type deviceView struct {
	InstallationID string `json:"installation_id"`
	Fingerprint    string `json:"fingerprint"`
	UserAgent      string `json:"user_agent,omitempty"`
	IP             string `json:"ip,omitempty"`
	Location       string `json:"location,omitempty"`
}

type agentView struct {
	Name        string    `json:"name"`
	Sub         string    `json:"sub,omitempty"`
	CompletedAt time.Time `json:"completed_at"`
}

func viewOf(i *identification.Identification) processView {
	v := processView{
		ID: i.ID, OrgID: i.OrgID, Type: i.Type, Status: i.Status,
		CreatedAt: i.CreatedAt, UpdatedAt: i.UpdatedAt, ExpiresAt: i.ExpiresAt,
		EndedAt: i.EndedAt, CompletedAt: i.CompletedAt,
		Actor:         actorViewOf(i.Actor),
		TwoFactorType: i.TwoFactorType, Channel: channelViewOf(i.Channel),
		FailureReason: i.FailureReason, Version: i.Version,
		Device: deviceViewOf(i.Device), CompletedDevice: deviceViewOf(i.CompletedDevice),
	}
	if i.Status == identification.StatusCancelled {
		reason := i.CancelReason
		v.CancelReason = &reason
	}
	if i.Type == identification.TypeOTP {
		v.OTP = otpViewOf(i, i.Channel)
		if i.TwoFactorType == "PERSONAL_DOCUMENT_IMAGE" {
			if i.Status.Open() && (i.EvidenceOf(identification.EvidenceDocumentFront) == nil || i.EvidenceOf(identification.EvidenceDocumentBack) == nil) {
				v.Awaiting = []string{"PERSONAL_DOCUMENT_IMAGE"}
			}
			v.Evidence = evidenceKinds(i, identification.EvidenceDocumentFront, identification.EvidenceDocumentBack)
		}
	}
	for _, st := range i.Sequence {
		sv := stepView{IdentificationType: st.IdentificationType, Status: st.Status}
		if o := st.OTPStep; o != nil {
			sv.OTPStep = &otpStepView{TwoFactorType: o.TwoFactorType, Channel: channelViewOf(o.Channel)}
			sv.OTP = otpViewOf(i, o.Channel)
		}
		switch st.IdentificationType {
		case identification.StepIdentityDocument:
			sv.Evidence = evidenceKinds(i, identification.EvidenceDocumentFront, identification.EvidenceDocumentBack, identification.EvidenceSelfie)
			if d := i.Decision; d != nil {
				sv.Decision = map[bool]string{true: identification.DecisionApproved, false: identification.DecisionRejected}[d.Approved]
			}
		case identification.StepAgent:
			sv.Evidence = evidenceKinds(i, identification.EvidenceAgentImage)
		}
		if d := st.IdentityDocumentStep; d != nil {
			sv.IdentityDocumentStep = &identityDocumentStepView{ProviderType: d.ProviderType}
		}
		if st.IdentificationType == identification.StepAgent && i.Agent != nil {
			sv.Agent = &agentView{Name: i.Agent.Name, Sub: i.Agent.Sub, CompletedAt: i.Agent.At}
		}
		v.Sequence = append(v.Sequence, sv)
	}
	return v
}

func actorViewOf(a identification.Actor) actorView {
	v := actorView{Name: a.Name, LastName: a.LastName, Email: a.Email, Language: a.Language}
	if d := a.IdentityDocument; d != nil {
		v.IdentityDocument = &identityDocumentView{DocumentNumber: d.DocumentNumber, DocumentType: d.DocumentType, Country: d.Country}
	}
	if m := a.MSISDN; m != nil {
		v.MSISDN = &msisdnView{PhoneNumber: m.PhoneNumber, CountryCode: m.CountryCode}
	}
	return v
}

func channelViewOf(c *identification.Channel) *channelView {
	if c == nil {
		return nil
	}
	return &channelView{Type: c.Type, External: c.External}
}

func deviceViewOf(d *identification.Device) *deviceView {
	if d == nil {
		return nil
	}
	return &deviceView{InstallationID: d.InstallationID, Fingerprint: d.Fingerprint, UserAgent: d.UserAgent, IP: d.IP, Location: d.Location}
}

// otpViewOf is the state of i's code: always present for an OTP
// identification, and for a chain's OTP step once a code was issued.
func otpViewOf(i *identification.Identification, ch *identification.Channel) *otpView {
	o := i.OTP
	if o == nil {
		if i.Type == identification.TypeChain {
			return nil
		}
		o = &identification.OTPState{}
	}
	v := &otpView{CodesSent: o.CodesSent, MaxCodes: identification.MaxCodes, Attempts: o.Attempts,
		AttemptsLeft: max(identification.MaxAttempts-o.Attempts, 0)}
	if exp := identification.CodeExpiry(i); !exp.IsZero() && o.CodesSent > 0 {
		v.CodeExpiresAt = &exp
	}
	v.Delivery = deliveryView{Status: o.Delivery.Status, Attempts: o.Delivery.Attempts}
	if ch != nil && ch.External {
		v.Delivery.Status = identification.DeliveryExternal
	}
	if v.Delivery.Status == "" {
		v.Delivery.Status = identification.DeliveryPending
	}
	if !o.Delivery.LastTried.IsZero() {
		t := o.Delivery.LastTried
		v.Delivery.LastTried = &t
	}
	return v
}

// historyView is the answer of a history read: every change, oldest first.
type historyView struct {
	Items []historyItemView `json:"items"`
}

type historyItemView struct {
	At        time.Time             `json:"at"`
	Action    string                `json:"action"`
	From      identification.Status `json:"from,omitempty"`
	To        identification.Status `json:"to"`
	By        byView                `json:"by"`
	Reason    string                `json:"reason,omitempty"`
	RequestID string                `json:"request_id,omitempty"`
}

type byView struct {
	Kind identification.CallerKind `json:"kind"`
	Sub  string                    `json:"sub,omitempty"`
}

func historyViewOf(i *identification.Identification) historyView {
	v := historyView{Items: make([]historyItemView, 0, len(i.History))}
	for n, ft := range i.FromTo() {
		h := i.History[n]
		v.Items = append(v.Items, historyItemView{At: h.At, Action: h.Action, From: ft[0], To: ft[1],
			By: byView{Kind: h.ByKind, Sub: h.BySub}, Reason: h.Reason, RequestID: h.RequestID})
	}
	return v
}

// listView is a page of a listing: the read of each process, and the cursor
// of the next page (null on the last).
type listView struct {
	Items      []processView `json:"items"`
	NextCursor *string       `json:"next_cursor"`
}

func listViewOf(p identification.Page) listView {
	v := listView{Items: make([]processView, len(p.Items))}
	for n, i := range p.Items {
		v.Items[n] = viewOf(i)
	}
	if p.NextCursor != "" {
		v.NextCursor = &p.NextCursor
	}
	return v
}

// uploadsView is the answer of an uploads request: one form per file.
type uploadsView struct {
	Uploads []uploadView `json:"uploads"`
}

type uploadView struct {
	Kind      identification.EvidenceKind `json:"kind"`
	Key       string                      `json:"key"`
	URL       string                      `json:"url"`
	Fields    map[string]string           `json:"fields"`
	ExpiresAt time.Time                   `json:"expires_at"`
}

func uploadsViewOf(ups []identification.Upload) uploadsView {
	v := uploadsView{Uploads: make([]uploadView, len(ups))}
	for n, u := range ups {
		v.Uploads[n] = uploadView{Kind: u.Kind, Key: u.Key, URL: u.Form.URL, Fields: u.Form.Fields, ExpiresAt: u.Form.Expires.UTC()}
	}
	return v
}

// evidenceListView is an admin's read of the images, with download links.
type evidenceListView struct {
	Items []evidenceItemView `json:"items"`
}

type evidenceItemView struct {
	Kind              identification.EvidenceKind `json:"kind"`
	ContentType       string                      `json:"content_type"`
	Size              int64                       `json:"size"`
	UploadedAt        time.Time                   `json:"uploaded_at"`
	By                byView                      `json:"by"`
	DownloadURL       string                      `json:"download_url"`
	DownloadExpiresAt time.Time                   `json:"download_expires_at"`
}

func evidenceListViewOf(links []identification.DownloadLink) evidenceListView {
	v := evidenceListView{Items: make([]evidenceItemView, len(links))}
	for n, l := range links {
		v.Items[n] = evidenceItemView{Kind: l.Kind, ContentType: l.ContentType, Size: l.Size, UploadedAt: l.At.UTC(),
			By: byView{Kind: l.ByKind, Sub: l.BySub}, DownloadURL: l.URL, DownloadExpiresAt: l.Expires.UTC()}
	}
	return v
}
