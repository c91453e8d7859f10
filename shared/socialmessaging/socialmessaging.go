// Package socialmessaging delivers codes by WhatsApp through AWS End User
// Messaging Social's SendWhatsAppMessage.
//
// The SDK has a client for that service, but it is not a dependency of this
// module (it would be linked into the stream function for one call): like
// the Secrets Manager read in package codekey, the one call is made by
// hand, a REST-JSON POST signed and sent by shared/sigv4 (the SDK's own
// SigV4 signer) with the function's credentials. The shape of the call
// comes from the service model (socialmessaging 2024-01-01):
//
//   - endpoint https://social-messaging.<region>.amazonaws.com (endpoint
//     prefix "social-messaging");
//   - POST /v1/whatsapp/send, Content-Type application/json, body
//     {"originationPhoneNumberId", "message", "metaApiVersion"}, where
//     message is a blob (base64 in JSON) holding the Meta Cloud API message
//     object;
//   - SigV4 with signing name "social-messaging";
//   - answer {"messageId"}; errors ValidationException and
//     InvalidParametersException (400), AccessDeniedException (403),
//     ResourceNotFoundException (404), ThrottledRequestException (429),
//     InternalServiceException (500), DependencyException (502).
//
// This channel has not been exercised against AWS or WhatsApp: its tests
// check the request against the service model and Meta's documented
// message shape on a local recorder, nothing more. Before relying on it,
// send one code to a test number of the linked WhatsApp Business Account.
package socialmessaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/sigv4"
)

// SigningName is the service name SendWhatsAppMessage is signed for; it is
// also the endpoint's prefix.
const SigningName = "social-messaging"

// DefaultMetaAPIVersion is the Meta Graph API version asked for when
// Config.MetaAPIVersion is empty.
const DefaultMetaAPIVersion = "v20.0"

// Category is the WhatsApp template category of Config.TemplateName: it
// decides which parameters the message carries.
type Category string

const (
	// Authentication is Meta's category for one-time codes, and the
	// default. Meta fixes the body of such a template ("<code> is your
	// verification code", in the template's language) and its copy-code
	// button: the message carries the code twice, as the body's one
	// parameter and as the parameter of button 0 (sub_type "url", which is
	// what Meta stores a copy-code button as). The organisation and the
	// time of expiry cannot be parameters; the expiry warning, if wanted, is
	// fixed in the template (code_expiration_minutes).
	Authentication Category = "AUTHENTICATION"
	// Utility is a template whose body takes three text parameters, in this
	// order: the organisation, the code, and the time the code is valid
	// until (ValidUntilLayout, in UTC). Meta may refuse to approve a code in
	// a utility template, or move it to the authentication category: use it
	// only with a template Meta has approved in that shape.
	Utility Category = "UTILITY"
)

// ValidUntilLayout formats Message.ValidUntil, in UTC, for a Utility
// template.
const ValidUntilLayout = "2006-01-02 15:04 UTC"

// Languages maps the API's languages (identification.Languages) to the
// WhatsApp template language codes a template is looked up with. Meta's list
// of template languages has Spanish (es), English (en), Catalan (ca) and
// German (de), but neither Basque nor Galician: EU and GL fall back to
// Spanish, which every actor with those languages in Spain reads. The
// template must have an approved translation in each code used here, with
// exactly that code (a template translated as en_US is not found as en):
// Config.Languages replaces entries of this map for such a template.
var Languages = map[string]string{
	"ES": "es",
	"EN": "en",
	"EU": "es",
	"GL": "es",
	"CA": "ca",
	"DE": "de",
}

// Config configures a Sender.
type Config struct {
	// Region is the AWS region of the WhatsApp Business Account's link (the
	// function's own region).
	Region string
	// Endpoint replaces https://social-messaging.<Region>.amazonaws.com (a
	// local recorder in tests).
	Endpoint string
	// OriginationPhoneNumberID is the linked phone number's id
	// (phone-number-id-…), as GetLinkedWhatsAppBusinessAccount lists it.
	OriginationPhoneNumberID string
	// TemplateName is the approved WhatsApp template the code is sent in.
	TemplateName string
	// Category is TemplateName's category; Authentication when empty.
	Category Category
	// Languages, when set, replaces entries of the package's Languages for
	// this template (an API language to a WhatsApp language code).
	Languages map[string]string
	// MetaAPIVersion is the Meta Graph API version (v<number>);
	// DefaultMetaAPIVersion when empty.
	MetaAPIVersion string
	// HTTPClient sends the request; http.DefaultClient when nil.
	HTTPClient *http.Client
	// Credentials sign each request, retrieved at each send: the
	// function's own, which the composition root (shared/app) provides
	// (app.Config.CredentialsFor). When nil, or empty, nothing is sent:
	// Send fails saying so.
	Credentials aws.CredentialsProvider
}

// Sender sends WHATSAPP messages (identification.Sender).
type Sender struct {
	cfg      Config
	endpoint string
	client   *sigv4.Client
	langs    map[string]string
}

var _ identification.Sender = (*Sender)(nil)

// New returns the sender configured by cfg.
func New(cfg Config) *Sender {
	if cfg.MetaAPIVersion == "" {
		cfg.MetaAPIVersion = DefaultMetaAPIVersion
	}
	if cfg.Category == "" {
		cfg.Category = Authentication
	}
	endpoint := strings.TrimRight(cfg.Endpoint, "/")
	if endpoint == "" {
		endpoint = "https://" + SigningName + "." + cfg.Region + ".amazonaws.com"
	}
	langs := make(map[string]string, len(Languages)+len(cfg.Languages))
	for k, v := range Languages {
		langs[k] = v
	}
	for k, v := range cfg.Languages {
		langs[k] = v
	}
	client := &sigv4.Client{Service: SigningName, Region: cfg.Region, Credentials: cfg.Credentials, HTTPClient: cfg.HTTPClient}
	return &Sender{cfg: cfg, endpoint: endpoint, client: client, langs: langs}
}

// Error is a refusal of SendWhatsAppMessage: the HTTP status and the error's
// kind (ValidationException, ThrottledRequestException…), never the
// service's message, which may quote the request. It wraps
// identification.ErrUndeliverable when retrying cannot help.
type Error struct {
	Status int
	Kind   string
}

func (e *Error) Error() string {
	kind := e.Kind
	if kind == "" {
		kind = "unknown error"
	}
	return fmt.Sprintf("whatsapp: SendWhatsAppMessage: status %d %s", e.Status, kind)
}

// Unwrap is identification.ErrUndeliverable for the refusals a retry cannot
// change: the message is invalid for WhatsApp (ValidationException,
// InvalidParametersException: an unknown template or translation, a number
// WhatsApp refuses) or the origination phone number does not exist
// (ResourceNotFoundException). Throttling (429), the service's own failures
// (5xx) and every other refusal, AccessDeniedException included (the
// function's role, which a deployment fixes), may pass on a retry.
func (e *Error) Unwrap() error {
	if e.Undeliverable() {
		return identification.ErrUndeliverable
	}
	return nil
}

// Undeliverable reports whether retrying the send cannot help.
func (e *Error) Undeliverable() bool {
	switch e.Kind {
	case "ValidationException", "InvalidParametersException", "ResourceNotFoundException":
		return true
	}
	return false
}

// Send sends m's code in the configured template to m.To and returns
// WhatsApp's message id. Neither its errors nor anything it logs hold the
// destination or the code.
func (s *Sender) Send(ctx context.Context, m identification.Message) (string, error) {
	if m.Channel != "" && m.Channel != "WHATSAPP" {
		return "", fmt.Errorf("whatsapp: channel %q is not WHATSAPP: %w", m.Channel, identification.ErrUndeliverable)
	}
	if s.cfg.OriginationPhoneNumberID == "" || s.cfg.TemplateName == "" || s.client.Region == "" {
		return "", errors.New("whatsapp: the origination phone number id, the template name and the region must be set")
	}
	if !strings.HasPrefix(m.To, "+") || len(m.To) < 2 {
		return "", fmt.Errorf("whatsapp: the destination is not an E.164 number: %w", identification.ErrUndeliverable)
	}
	message, err := json.Marshal(s.whatsAppMessage(m))
	if err != nil {
		return "", fmt.Errorf("whatsapp: encode the message: %w", err)
	}
	// A []byte member is base64 in JSON: the service model's blob.
	body, err := json.Marshal(sendInput{
		OriginationPhoneNumberID: s.cfg.OriginationPhoneNumberID,
		Message:                  message,
		MetaAPIVersion:           s.cfg.MetaAPIVersion,
	})
	if err != nil {
		return "", fmt.Errorf("whatsapp: encode the request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/v1/whatsapp/send", nil)
	if err != nil {
		return "", fmt.Errorf("whatsapp: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req, body)
	if err != nil {
		// The error names the endpoint and the path, nothing of the body.
		return "", fmt.Errorf("whatsapp: SendWhatsAppMessage: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("whatsapp: SendWhatsAppMessage: read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return "", &Error{Status: resp.StatusCode, Kind: sigv4.ErrorCode(resp.Header, raw)}
	}
	var out struct {
		MessageID string `json:"messageId"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.MessageID == "" {
		return "", fmt.Errorf("whatsapp: SendWhatsAppMessage: status %d without a message id", resp.StatusCode)
	}
	return out.MessageID, nil
}

type sendInput struct {
	OriginationPhoneNumberID string `json:"originationPhoneNumberId"`
	Message                  []byte `json:"message"`
	MetaAPIVersion           string `json:"metaApiVersion"`
}

// The Meta Cloud API message object of a template message.
type (
	waMessage struct {
		MessagingProduct string     `json:"messaging_product"`
		RecipientType    string     `json:"recipient_type"`
		To               string     `json:"to"`
		Type             string     `json:"type"`
		Template         waTemplate `json:"template"`
	}
	waTemplate struct {
		Name       string        `json:"name"`
		Language   waLanguage    `json:"language"`
		Components []waComponent `json:"components"`
	}
	waLanguage struct {
		Code string `json:"code"`
	}
	waComponent struct {
		Type       string        `json:"type"`
		SubType    string        `json:"sub_type,omitempty"`
		Index      string        `json:"index,omitempty"`
		Parameters []waParameter `json:"parameters"`
	}
	waParameter struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
)

// whatsAppMessage is the template message for m. The destination keeps its
// '+': Meta recommends the plus sign and the country calling code, and
// without the plus it would prepend the business number's own country code.
func (s *Sender) whatsAppMessage(m identification.Message) waMessage {
	text := func(v string) waParameter { return waParameter{Type: "text", Text: v} }
	var components []waComponent
	switch s.cfg.Category {
	case Utility:
		components = []waComponent{{Type: "body", Parameters: []waParameter{
			text(m.Org), text(m.Code), text(m.ValidUntil.UTC().Format(ValidUntilLayout)),
		}}}
	default:
		components = []waComponent{
			{Type: "body", Parameters: []waParameter{text(m.Code)}},
			{Type: "button", SubType: "url", Index: "0", Parameters: []waParameter{text(m.Code)}},
		}
	}
	return waMessage{
		MessagingProduct: "whatsapp",
		RecipientType:    "individual",
		To:               m.To,
		Type:             "template",
		Template: waTemplate{
			Name:       s.cfg.TemplateName,
			Language:   waLanguage{Code: s.language(m.Language)},
			Components: components,
		},
	}
}

// language is the WhatsApp code of the API language lang; English when lang
// is empty or unknown.
func (s *Sender) language(lang string) string {
	if code, ok := s.langs[strings.ToUpper(lang)]; ok {
		return code
	}
	return s.langs["EN"]
}
