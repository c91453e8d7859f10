// Package settings is what an organisation configures of itself
// (docs/settings.md): the name its messages give it, the language they
// fall back to, its codes' length and lifetime, the channels it delivers
// on, its own message texts and its sending guard. It holds the document, its rules, the
// rendering of a text, the audit list of changes and the service the
// routes call; a store keeps them (dynamostore), and the create, resend
// and delivery paths read them through a Cache.
package settings

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// The bounds of the settings' values.
const (
	MinCodeLength     = identification.MinCodeLength
	MaxCodeLength     = identification.MaxCodeLength
	MinCodeTTLMinutes = 1
	MaxCodeTTLMinutes = 60
	MaxDisplayName    = 40
	// MaxTextLength is the longest e-mail text, in characters.
	MaxTextLength = 1000

	// The sending guard's limits (docs/guard.md).
	MaxSendsPerHour        = 1_000_000
	MaxSendsPerDay         = 10_000_000
	MaxSendsPerDestination = 1000
	MinPrefixDigits        = 3
	MaxPrefixDigits        = 12
	MaxPrefixPerHour       = 1_000_000
)

// Channels are the channels a code can go by.
var Channels = []string{"SMS", "EMAIL", "WHATSAPP"}

// Settings is an organisation's document. The zero value of a member
// means "not set": the deployment's default applies (Effective).
type Settings struct {
	// DisplayName is what messages call the organisation ({org}); its id
	// when empty.
	DisplayName string
	// DefaultLanguage is the language of a message to an actor who has
	// none (one of identification.Languages); EN when empty.
	DefaultLanguage string
	// CodeLength and CodeTTLMinutes shape the codes issued from now on.
	CodeLength     int
	CodeTTLMinutes int
	// Channels are those the service may deliver on; every channel when
	// empty.
	Channels []string
	// Messages are the organisation's own texts by channel and language
	// (Messages["SMS"]["ES"]); the built-in text where there is none.
	Messages map[string]map[string]string
	// Guard is the sending guard (docs/guard.md).
	Guard Guard
}

// Guard is the sending guard's part of the document. A zero member is not
// set: ENFORCE, the deployment's allowed countries, no limit.
type Guard struct {
	// Mode is one of identification.GuardModes.
	Mode string
	// AllowedCountries are ISO 3166-1 alpha-2 codes; the deployment's
	// DefaultAllowedCountries when nil.
	AllowedCountries []string
	// The budgets and the destination's daily limit.
	MaxSendsPerHour, MaxSendsPerDay, MaxSendsPerDestinationPerDay int
	// PrefixDigits and PrefixMaxPerHour are prefix_velocity: both, or
	// neither.
	PrefixDigits, PrefixMaxPerHour int
}

// Rules are g as the service applies it.
func (g Guard) Rules() identification.SendingRules {
	return identification.SendingRules{Mode: g.Mode, AllowedCountries: slices.Clone(g.AllowedCountries),
		MaxPerHour: g.MaxSendsPerHour, MaxPerDay: g.MaxSendsPerDay, MaxPerDestinationPerDay: g.MaxSendsPerDestinationPerDay,
		PrefixDigits: g.PrefixDigits, PrefixMaxPerHour: g.PrefixMaxPerHour}
}

// Clone is a deep copy of s.
func (s Settings) Clone() Settings {
	c := s
	c.Channels = slices.Clone(s.Channels)
	c.Guard.AllowedCountries = slices.Clone(s.Guard.AllowedCountries)
	if s.Messages != nil {
		c.Messages = make(map[string]map[string]string, len(s.Messages))
		for ch, texts := range s.Messages {
			c.Messages[ch] = maps.Clone(texts)
		}
	}
	return c
}

// Stored is a document as its store holds it: the version goes one up
// with each change (0: never written, the defaults), and the change's
// time and author.
type Stored struct {
	Settings  Settings
	Version   int64
	UpdatedAt time.Time
	UpdatedBy string
}

// Change is one entry of the audit list: who changed which members, when,
// to which version.
type Change struct {
	Version int64
	At      time.Time
	// ByKind and BySub are the caller (its kind, the token's sub); the
	// request id ties the entry to the request's log lines.
	ByKind    identification.CallerKind
	BySub     string
	RequestID string
	// Fields are the members changed, as paths of the document
	// ("display_name", "code.length", "messages.SMS.ES").
	Fields []string
}

// Store keeps each organisation's settings and their audit list. A change
// is one transaction: the document, on the condition that it is still at
// the version the change was made from, and its audit entry.
type Store interface {
	// Settings returns org's document; KindNotFound when it was never
	// written.
	Settings(ctx context.Context, org string) (Stored, error)
	// PutSettings writes s as version from+1 with its audit entry c, on
	// the condition that the stored version is from (0: never written);
	// KindPrecondition when it is not.
	PutSettings(ctx context.Context, org string, s Stored, from int64, c Change) error
	// SettingsHistory returns a page of org's audit list, newest first:
	// limit entries before version before (0: from the newest), and
	// whether older ones follow.
	SettingsHistory(ctx context.Context, org string, limit int, before int64) ([]Change, bool, error)
}
