package identification

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The enumerations and limits of the request bodies (docs/openapi.yaml).
var (
	DocumentTypes     = []string{"NIF", "NIE", "PASSPORT", "IDENTITY_CARD"}
	Languages         = []string{"ES", "EN", "EU", "GL", "CA", "DE"}
	ChannelTypes      = []string{"SMS", "EMAIL", "WHATSAPP"}
	TwoFactorTypes    = []string{"DOCUMENT_NUMBER", "PERSONAL_DOCUMENT_IMAGE", "EMAIL"}
	StepTypes         = []string{"OTP", "AGENT", "IDENTITY_DOCUMENT"}
	ProviderTypes     = []string{"INTERNAL", "EXTERNAL"}
	DefaultProvider   = "INTERNAL"
	MaxSteps          = 3 // the most steps a chain's sequence holds
	maxReason         = 500
	maxNameLength     = 100
	maxEmailLength    = 254
	maxDocumentNumber = 32
	minPhoneDigits    = 4
	maxPhoneDigits    = 15
	maxCountryCodeLen = 3
	enumList          = func(list []string) string { return strings.Join(list, ", ") }
)

// The inputs of the API's actions, as a request's decoder makes them. Each
// has a Check method, which records in a Problems every rule the input
// breaks, each at the path of its field and never repeating the value,
// after the decoder's own problems: a field the decoder marked bad is not
// checked, nor any rule depending on it. Check also puts free text in the
// form it is kept in (NFC, and trimmed where the rule says so). Validate
// is Check with nothing marked bad.

// CreateOTP is the body of "create OTP identification".
type CreateOTP struct {
	Actor         *Actor
	ExpiresIn     string
	TwoFactorType string
	Channel       *Channel

	// validated is set by Check when the input passed every rule, so the
	// service does not validate it twice.
	validated bool
}

// CreateChain is the body of "create chain identification".
type CreateChain struct {
	Actor     *Actor
	ExpiresIn string
	Sequence  []Step
	// SentSteps is how many steps the request held when a decoder left
	// them undecoded: a sequence too long to take is refused by its
	// length alone, so that a hostile one costs one error, not one per
	// step. 0 means len(Sequence).
	SentSteps int

	// validated is set by Check when the input passed every rule.
	validated bool
}

// Check normalises the actor's names and records the rules the input
// breaks in p (see above).
func (c *CreateOTP) Check(p *Problems) {
	c.Actor.normalise()
	c.validate(p)
	c.validated = len(p.list) == 0
}

// Validate returns every rule the input breaks, each with its field path.
func (c CreateOTP) Validate() []FieldError {
	p := &Problems{}
	c.validate(p)
	return p.list
}

func (c CreateOTP) validate(p *Problems) {
	validateActor(p, c.Actor)
	if c.ExpiresIn != "" {
		if _, err := ParseExpiresIn(c.ExpiresIn); err != nil {
			p.Add("expires_in", "%s", err.Error())
		}
	}
	validateTwoFactor(p, "two_factor_type", c.TwoFactorType, c.Actor)
	if c.Channel == nil {
		p.Add("channel", "is required")
	} else {
		validateChannel(p, "channel", c.Channel, c.Actor)
	}
}

// Check normalises the actor's names and records the rules the input
// breaks in p (see above).
func (c *CreateChain) Check(p *Problems) {
	c.Actor.normalise()
	c.validate(p)
	c.validated = len(p.list) == 0
}

// Validate returns every rule the input breaks, each with its field path.
func (c CreateChain) Validate() []FieldError {
	p := &Problems{}
	c.validate(p)
	return p.list
}

// normalise puts the names in NFC, the form they are counted and kept in.
func (a *Actor) normalise() {
	if a != nil {
		a.Name = nfc(a.Name)
		a.LastName = nfc(a.LastName)
	}
}

func (c CreateChain) validate(p *Problems) {
	validateActor(p, c.Actor)
	if c.ExpiresIn == "" {
		p.Add("expires_in", "is required for a chain (an ISO-8601 duration such as PT15M)")
	} else if _, err := ParseExpiresIn(c.ExpiresIn); err != nil {
		p.Add("expires_in", "%s", err.Error())
	}
	n := c.SentSteps
	if n == 0 {
		n = len(c.Sequence)
	}
	switch {
	case n == 0 && !p.Bad("sequence"):
		p.Add("sequence", "is required and must hold 1 to %d steps", MaxSteps)
	case n > MaxSteps:
		p.Add("sequence", "must hold 1 to %d steps, got %d", MaxSteps, n)
	}
	seen := map[string]int{}
	for i, st := range c.Sequence {
		path := "sequence[" + strconv.Itoa(i) + "]"
		if p.Bad(path) {
			continue
		}
		tp := path + ".identification_type"
		switch {
		case st.IdentificationType == "":
			p.Add(tp, "is required: one of %s", enumList(StepTypes))
		case !slices.Contains(StepTypes, st.IdentificationType):
			p.Add(tp, "must be one of %s", enumList(StepTypes))
		default:
			if j, dup := seen[st.IdentificationType]; dup {
				p.Add(tp, "must differ from sequence[%d].identification_type: each step type may appear once", j)
			} else {
				seen[st.IdentificationType] = i
			}
		}
		if st.OTPStep != nil && st.IdentificationType != "OTP" {
			p.Add(path+".otp_step", "is only allowed on an OTP step")
		}
		if st.IdentityDocumentStep != nil && st.IdentificationType != "IDENTITY_DOCUMENT" {
			p.Add(path+".identity_document_step", "is only allowed on an IDENTITY_DOCUMENT step")
		}
		switch st.IdentificationType {
		case "OTP":
			op := path + ".otp_step"
			if st.OTPStep == nil {
				p.Add(op, "is required on an OTP step")
				break
			}
			if st.OTPStep.TwoFactorType == "PERSONAL_DOCUMENT_IMAGE" {
				// A chain takes document images in its IDENTITY_DOCUMENT
				// step, where a reviewer or provider decides on them; its
				// OTP step would only collect them unchecked.
				p.Add(op+".two_factor_type", "PERSONAL_DOCUMENT_IMAGE is not taken by a chain's OTP step: add an IDENTITY_DOCUMENT step for the document images")
			} else {
				validateTwoFactor(p, op+".two_factor_type", st.OTPStep.TwoFactorType, c.Actor)
			}
			if st.OTPStep.Channel == nil {
				p.Add(op+".channel", "is required")
			} else {
				validateChannel(p, op+".channel", st.OTPStep.Channel, c.Actor)
			}
		case "IDENTITY_DOCUMENT":
			if st.IdentityDocumentStep != nil && st.IdentityDocumentStep.ProviderType != "" &&
				!slices.Contains(ProviderTypes, st.IdentityDocumentStep.ProviderType) {
				p.Add(path+".identity_document_step.provider_type", "must be one of %s", enumList(ProviderTypes))
			}
		}
	}
}

func validateActor(p *Problems, a *Actor) {
	if a == nil {
		p.Add("actor", "is required")
		return
	}
	if msg := checkName(a.Name, maxNameLength); msg != "" {
		p.Add("actor.name", "%s", msg)
	}
	if msg := checkOptionalText(a.LastName, oneLine, maxNameLength); msg != "" {
		p.Add("actor.last_name", "%s", msg)
	}
	if d := a.IdentityDocument; d != nil {
		switch {
		case d.DocumentNumber == "":
			p.Add("actor.identity_document.document_number", "is required with identity_document")
		case !validDocumentNumber(d.DocumentNumber):
			p.Add("actor.identity_document.document_number", "must be 1 to %d letters, digits or '-'", maxDocumentNumber)
		}
		switch {
		case d.DocumentType == "":
			p.Add("actor.identity_document.document_type", "is required with identity_document: one of %s", enumList(DocumentTypes))
		case !slices.Contains(DocumentTypes, d.DocumentType):
			p.Add("actor.identity_document.document_type", "must be one of %s", enumList(DocumentTypes))
		}
		if d.Country != "" && !isCountry(d.Country) {
			p.Add("actor.identity_document.country", "must be an ISO 3166-1 alpha-2 code in upper case, such as ES")
		}
	}
	if a.Email != "" && !isEmail(a.Email) {
		p.Add("actor.email", "must be a valid e-mail address of at most %d characters", maxEmailLength)
	}
	if m := a.MSISDN; m != nil {
		switch n := len(m.PhoneNumber); {
		case n == 0:
			p.Add("actor.msisdn.phone_number", "is required with msisdn")
		case n < minPhoneDigits || n > maxPhoneDigits:
			p.Add("actor.msisdn.phone_number", "must have %d to %d digits, got %d", minPhoneDigits, maxPhoneDigits, n)
		case m.PhoneNumber[0] == '0':
			p.Add("actor.msisdn.phone_number", "must not start with 0: send the subscriber number without a trunk prefix")
		}
		switch n := len(m.CountryCode); {
		case n == 0:
			p.Add("actor.msisdn.country_code", "is required with msisdn")
		case n > maxCountryCodeLen || !isDigits(m.CountryCode):
			p.Add("actor.msisdn.country_code", "must be 1 to %d digits, optionally after a '+'", maxCountryCodeLen)
		}
	}
	if a.Language != "" && !slices.Contains(Languages, a.Language) {
		p.Add("actor.language", "must be one of %s", enumList(Languages))
	}
}

func validateTwoFactor(p *Problems, path, tf string, a *Actor) {
	if tf == "" {
		return
	}
	if !slices.Contains(TwoFactorTypes, tf) {
		p.Add(path, "must be one of %s", enumList(TwoFactorTypes))
		return
	}
	if a == nil {
		return
	}
	switch tf {
	case "DOCUMENT_NUMBER", "PERSONAL_DOCUMENT_IMAGE":
		if a.IdentityDocument == nil && !p.Bad("actor.identity_document") {
			p.Add(path, "DOCUMENT_NUMBER and PERSONAL_DOCUMENT_IMAGE need actor.identity_document")
		}
	case "EMAIL":
		if a.Email == "" && !p.Bad("actor.email") {
			p.Add(path, "EMAIL needs actor.email")
		}
	}
}

func validateChannel(p *Problems, path string, c *Channel, a *Actor) {
	tp := path + ".type"
	switch {
	case c.Type == "":
		p.Add(tp, "is required: one of %s", enumList(ChannelTypes))
		return
	case !slices.Contains(ChannelTypes, c.Type):
		p.Add(tp, "must be one of %s", enumList(ChannelTypes))
		return
	}
	if c.External || a == nil {
		return
	}
	switch c.Type {
	case "SMS", "WHATSAPP":
		if a.MSISDN == nil && !p.Bad("actor.msisdn") {
			p.Add(tp, "SMS and WHATSAPP with external=false need actor.msisdn to deliver the code")
		}
	case "EMAIL":
		if a.Email == "" && !p.Bad("actor.email") {
			p.Add(tp, "EMAIL with external=false needs actor.email to deliver the code")
		}
	}
}

// Cancellation is the body of a cancel: why. An OTP identification's
// cancel requires its reason; a chain's takes one or none.
type Cancellation struct {
	Reason string
}

// Check puts the reason in NFC and records the rule it breaks in p (see
// checkReason).
func (c *Cancellation) Check(p *Problems, required bool) {
	c.Reason = nfc(c.Reason)
	if !p.Bad("reason") {
		if msg := checkReason(c.Reason, required); msg != "" {
			p.Add("reason", "%s", msg)
		}
	}
}

// Validate returns the rule the reason breaks, if any.
func (c Cancellation) Validate(required bool) []FieldError {
	p := &Problems{}
	c.Check(p, required)
	return p.list
}

// Validation is the body of a validate call: the code, and the second
// factor when the process has one.
type Validation struct {
	Code      string
	TwoFactor string
}

// maxTwoFactor bounds a second-factor value: the longest it could rightly
// be is an e-mail address.
var maxTwoFactor = maxEmailLength

// Check records the rules the input breaks in p: a code of MinCodeLength
// to MaxCodeLength letters or digits, a second factor of one line of at most 254
// characters. Whether two_factor is required depends on the process
// (DOCUMENT_NUMBER and EMAIL need it): the attempt's own conditional write
// checks that, without a read before it.
func (v *Validation) Check(p *Problems) {
	if !p.Bad("code") && !ValidCodeShape(v.Code) {
		p.Add("code", "must be %d to %d letters or digits", MinCodeLength, MaxCodeLength)
	}
	if !p.Bad("two_factor") {
		if msg := checkOptionalText(v.TwoFactor, oneLine, maxTwoFactor); msg != "" {
			p.Add("two_factor", "%s", msg)
		}
	}
}

// Validate returns every rule the input breaks, each with its field path.
func (v Validation) Validate() []FieldError {
	p := &Problems{}
	v.Check(p)
	return p.list
}

// AgentResult is the body of the agent step's validate call.
type AgentResult struct {
	Agent            string
	EvidenceMetadata string
}

// maxEvidenceMetadata bounds the agent's evidence metadata (a JSON text).
const maxEvidenceMetadata = 4 << 10

// Check records the rules the input breaks in p (agent 1..100 characters,
// evidence_metadata an optional JSON text up to 4 KiB) and keeps the
// agent's name trimmed, in NFC.
func (a *AgentResult) Check(p *Problems) {
	if !p.Bad("agent") {
		if msg := checkName(a.Agent, maxNameLength); msg != "" {
			p.Add("agent", "%s", msg)
		}
		a.Agent = strings.TrimSpace(nfc(a.Agent))
	}
	if !p.Bad("evidence_metadata") && a.EvidenceMetadata != "" {
		if len(a.EvidenceMetadata) > maxEvidenceMetadata {
			p.Add("evidence_metadata", "must be at most %d bytes", maxEvidenceMetadata)
		} else if !json.Valid([]byte(a.EvidenceMetadata)) {
			p.Add("evidence_metadata", "must be a JSON text")
		}
	}
}

// Validate returns every rule the input breaks, each with its field path.
func (a AgentResult) Validate() []FieldError {
	p := &Problems{}
	a.Check(p)
	return p.list
}

// checkReason checks a cancel reason: free text of up to maxReason
// characters that may run over several lines; a required one has at least
// one visible character.
func checkReason(reason string, required bool) string {
	if !required {
		return checkOptionalText(reason, multiLine, maxReason)
	}
	if reason == "" {
		return "is required: 1 to " + strconv.Itoa(maxReason) + " characters"
	}
	n := nfc(reason)
	tp := checkText(n, multiLine)
	switch {
	case tp.at > 0:
		return textRuleMessage(multiLine, tp.at)
	case !tp.visible:
		return "is required: 1 to " + strconv.Itoa(maxReason) + " characters, at least one of them visible"
	}
	if c := utf8.RuneCountInString(n); c > maxReason {
		return "must be at most " + strconv.Itoa(maxReason) + " characters, got " + strconv.Itoa(c)
	}
	return ""
}

// documentSeparators are what a document number is compared without. One
// replacer for every call: building one cost 12 µs of every create
// (make bench's profile of the store path).
var documentSeparators = strings.NewReplacer(" ", "", "-", "")

// normalisedDocument is a document number as compared: upper case, without
// spaces or hyphens.
func normalisedDocument(s string) string {
	return strings.ToUpper(documentSeparators.Replace(s))
}

// normalisedEmail is an e-mail address as compared: trimmed, lower case.
func normalisedEmail(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validDocumentNumber reports whether s is 1 to maxDocumentNumber letters,
// digits or '-'.
func validDocumentNumber(s string) bool {
	return len(s) <= maxDocumentNumber && isDocumentNumber(s)
}

func isDocumentNumber(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return s != ""
}

// isEmail accepts the addresses of RFC 5322's dot-atom form, which is what
// real mailboxes use: local@domain, the local part up to 64 characters of
// atext separated by single dots, the domain at least two DNS labels of
// letters, digits and inner hyphens with a non-numeric top label. Quoted
// local parts, comments and IP literals are refused. It is written out
// rather than taken from net/mail, which would grow every Lambda binary; a
// test holds it to net/mail (everything accepted here net/mail accepts).
func isEmail(s string) bool {
	if len(s) > maxEmailLength {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at > 64 {
		return false
	}
	return isDotAtom(s[:at]) && isDomain(s[at+1:])
}

func isDotAtom(s string) bool {
	prevDot := true // no leading dot
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if prevDot {
				return false
			}
			prevDot = true
			continue
		}
		if !isAlnum(c) && !strings.ContainsRune("!#$%&'*+/=?^_`{|}~-", rune(c)) {
			return false
		}
		prevDot = false
	}
	return !prevDot
}

func isDomain(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	labels := strings.Split(s, ".")
	if len(labels) < 2 {
		return false
	}
	for _, l := range labels {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for i := 0; i < len(l); i++ {
			if !isAlnum(l[i]) && l[i] != '-' {
				return false
			}
		}
	}
	return !isDigits(labels[len(labels)-1])
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

// countries holds the officially assigned ISO 3166-1 alpha-2 codes.
const countries = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ " +
	"CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR " +
	"GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP " +
	"KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ " +
	"NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW " +
	"SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ " +
	"UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"

func isCountry(s string) bool {
	if len(s) != 2 || s[0] < 'A' || s[0] > 'Z' || s[1] < 'A' || s[1] > 'Z' {
		return false
	}
	return strings.Contains(countries, s)
}
