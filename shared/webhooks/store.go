package webhooks

import (
	"context"
	"time"

	"github.com/idadmin/api/shared/identification"
)

// Stored is an endpoint as its store holds it: the endpoint, and its
// signing secrets, sealed (identification.CodeKeys.Seal with SecretPurpose,
// bound to SecretOwner): the current one, and the previous one with the
// time it stops signing (a rotation's grace), if any.
type Stored struct {
	Endpoint       *Endpoint
	Secret         string
	PreviousSecret string
	PreviousUntil  time.Time
}

// SecretPurpose is the purpose secrets are sealed for.
const SecretPurpose = "webhook-secret"

// SecretOwner is what a sealed secret is bound to: its organisation and
// endpoint, so that a sealed value copied to another endpoint opens nowhere.
func SecretOwner(org, id string) string { return org + "/" + id }

// DisabledByOrganisation is the DisabledReason of an endpoint its
// organisation disabled (every store writes this one).
const DisabledByOrganisation = "disabled by the organisation"

// Change is a change of an endpoint: each non-nil field is set. Enabling a
// disabled endpoint clears its DisabledReason and FailingSince.
type Change struct {
	URL         *string
	Events      []string
	Description *string
	Status      *Status
}

// Store keeps each organisation's endpoints and their deliveries log
// (dynamostore implements it). Every change is one conditional write or
// one transaction; an organisation reaches only its own endpoints (an id
// of another's is KindNotFound).
type Store interface {
	// CreateEndpoint stores a new endpoint (version 1) with its sealed
	// secret. It returns KindConflict when the organisation has
	// MaxEndpoints already (counted in the same transaction, so that
	// registrations at once cannot pass the limit together).
	CreateEndpoint(ctx context.Context, s Stored) error
	// Endpoint returns the endpoint and its sealed secrets; KindNotFound.
	Endpoint(ctx context.Context, org, id string) (Stored, error)
	// Endpoints returns every endpoint of org, oldest first.
	Endpoints(ctx context.Context, org string) ([]*Endpoint, error)
	// UpdateEndpoint applies c at at and returns the endpoint as it now is
	// (its version one up); KindNotFound.
	UpdateEndpoint(ctx context.Context, org, id string, c Change, at time.Time) (*Endpoint, error)
	// RotateSecret makes sealed the current secret and keeps the current
	// one as the previous, signing until at+RotationGrace (a previous one
	// still in its grace is dropped); KindNotFound.
	RotateSecret(ctx context.Context, org, id, sealed string, at time.Time) (*Endpoint, error)
	// DeleteEndpoint removes the endpoint (its count goes down in the same
	// transaction); KindNotFound.
	DeleteEndpoint(ctx context.Context, org, id string) error

	// Failing records that an attempt to the endpoint failed at at: its
	// FailingSince is set if it was not. It returns the endpoint as it now
	// is; KindNotFound when it was deleted.
	Failing(ctx context.Context, org, id string, at time.Time) (*Endpoint, error)
	// Succeeded clears the endpoint's FailingSince (an attempt answered
	// 2xx). A deleted endpoint is not an error.
	Succeeded(ctx context.Context, org, id string, at time.Time) error
	// Disable disables the endpoint with reason, only if it is still
	// ENABLED and failing since since (an attempt that succeeded meanwhile,
	// or an admin's change, wins); false when it did not.
	Disable(ctx context.Context, org, id, reason string, since, at time.Time) (bool, error)

	// SaveDelivery writes the delivery's state (created or replaced: a
	// delivery is its latest attempt's outcome) with the event it
	// delivers, so that it can be replayed; the entry goes after
	// DeliveryRetention.
	SaveDelivery(ctx context.Context, d Delivery, e identification.Event) error
	// Delivery returns one delivery of the endpoint and its event;
	// KindNotFound.
	Delivery(ctx context.Context, org, endpoint, id string) (Delivery, identification.Event, error)
	// Deliveries returns a page of the endpoint's deliveries, newest event
	// first: at most limit, from after (the last id of the previous page,
	// "" for the first), and whether more follow.
	Deliveries(ctx context.Context, org, endpoint string, limit int, after string) ([]Delivery, bool, error)
}

// DeliveryRetention is how long a delivery stays in its endpoint's log.
const DeliveryRetention = 30 * 24 * time.Hour
