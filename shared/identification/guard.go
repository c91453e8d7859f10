package identification

import (
	"context"
	"fmt"
	"time"
)

// The sending guard's modes (docs/guard.md): ENFORCE refuses a code that
// breaks a rule, MONITOR sends it and records that it would have been
// refused, OFF checks nothing.
const (
	GuardEnforce = "ENFORCE"
	GuardMonitor = "MONITOR"
	GuardOff     = "OFF"
)

// GuardModes are the modes, as the settings name them.
var GuardModes = []string{GuardEnforce, GuardMonitor, GuardOff}

// The guard's rules, as a refusal and a guard event name them.
const (
	RuleCountry          = "allowed_countries"
	RuleHourlyBudget     = "max_sends_per_hour"
	RuleDailyBudget      = "max_sends_per_day"
	RuleDestinationDaily = "max_sends_per_destination_per_day"
	RulePrefixVelocity   = "prefix_velocity"
)

// SendingRules are an organisation's sending guard, as its settings make
// them. A zero limit is no limit.
type SendingRules struct {
	// Mode is GuardEnforce, GuardMonitor or GuardOff; GuardEnforce when
	// empty.
	Mode string
	// AllowedCountries are the ISO 3166-1 alpha-2 codes a phone
	// destination's number may belong to; nil allows every country.
	AllowedCountries []string
	// MaxPerHour and MaxPerDay are the organisation's budgets of codes
	// sent (UTC hours and days).
	MaxPerHour, MaxPerDay int
	// MaxPerDestinationPerDay bounds the codes one destination gets a day,
	// across processes.
	MaxPerDestinationPerDay int
	// PrefixDigits and PrefixMaxPerHour bound the codes sent an hour to
	// the numbers starting with the same PrefixDigits digits (the calling
	// code included); both or neither are set.
	PrefixDigits, PrefixMaxPerHour int
}

// Enforced reports whether a broken rule refuses the code.
func (r SendingRules) Enforced() bool { return r.Mode == "" || r.Mode == GuardEnforce }

// Send is one code the service is about to issue for delivery, as the
// guard sees it: never the destination itself, but its keyed hash, the
// keyed hash of its number's prefix and, for a phone, its E.164 number
// for the guard to read the country and the masked prefix from.
type Send struct {
	Ref     Ref
	Channel string
	// Phone is the E.164 number of an SMS or WhatsApp destination, ""
	// for e-mail.
	Phone string
	// DestinationKey is the keyed hash of the destination (the phone's
	// E.164 number or the e-mail address); PrefixKey that of the phone's
	// first Rules.PrefixDigits digits ("" without the rule or a phone).
	DestinationKey, PrefixKey string
	At                        time.Time
	Rules                     SendingRules
}

// Verdict is the guard's answer: the rule the send broke ("" for none),
// and whether that refuses it (ENFORCE) or only records it (MONITOR).
type Verdict struct {
	Rule    string
	Refused bool
}

// SendGuard checks a send against its rules and counts it, atomically
// with the checking (package guard). An error is the store's: the code is
// then not issued.
type SendGuard interface {
	Admit(ctx context.Context, s Send) (Verdict, error)
	// Checks reports whether rules check anything: false when they are
	// OFF, or allow every country and set no limit (the defaults), so
	// that a path that would read the process only for the guard reads
	// nothing.
	Checks(rules SendingRules) bool
}

// WithSendGuard makes the service check every code it delivers itself
// (never one the organisation delivers: external) with g, by the
// organisation's SendingRules, before the code is issued.
func WithSendGuard(g SendGuard) Option { return func(s *Service) { s.guard = g } }

// guardSend checks the send of a code on channel to i's actor: nil when it
// may go (or when the rule it broke is only monitored), KindSendingBlocked
// naming the rule when it may not.
func (s *Service) guardSend(ctx context.Context, pol Policy, i *Identification, channel string, now time.Time) error {
	if s.guard == nil || !s.guard.Checks(pol.Sending) || s.keys == nil {
		return nil
	}
	send := Send{Ref: i.Ref(), Channel: channel, At: now, Rules: pol.Sending}
	if channel == "EMAIL" {
		send.DestinationKey, _ = s.keys.ActorKey("", i.OrgID, ActorEmail, i.Actor.Email)
	} else {
		send.Phone = E164(i.Actor.MSISDN)
		send.DestinationKey, _ = s.keys.ActorKey("", i.OrgID, ActorPhone, send.Phone)
		if d := pol.Sending.PrefixDigits; d > 0 {
			digits := send.Phone[1:]
			send.PrefixKey, _ = s.keys.ActorKey("", i.OrgID, actorPrefix, digits[:min(d, len(digits))])
		}
	}
	v, err := s.guard.Admit(ctx, send)
	if err != nil {
		return fmt.Errorf("the sending guard of %s: %w", i.OrgID, err)
	}
	if v.Refused {
		return &Error{Kind: KindSendingBlocked,
			Message: "the organisation's sending guard refused to send this code: rule " + v.Rule + " (docs/guard.md); nothing was created or sent"}
	}
	return nil
}

// actorPrefix is the kind of a phone number's prefix's keyed hash.
const actorPrefix = "phone-prefix"
