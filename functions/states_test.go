package functions_test

import (
	"context"
	"time"

	"github.com/idadmin/api/internal/fixture"
	"github.com/idadmin/api/shared/dynamostore"
	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/webhooks"
)

// The states the route tests seed processes in: the IAM derivation drives
// every route in each (iam_test.go); the events test finds, in the same
// list, the state each sample event succeeds in (events_test.go). A route
// whose success needs a state none of them is adds it here, and no test
// names routes one by one.

// seedDevice is the device every chain routeStates starts is bound to
// (the events test rebinds it to its sample event's).
var seedDevice = identification.Device{InstallationID: "iam-install", Fingerprint: "iam-fp"}

// The code and second factor of every seeded process, those of the
// routes' examples.
const (
	seedCode      = "k4khb9"
	seedTwoFactor = "12345678A"
)

// routeState is a state a seeded process can be in.
type routeState struct {
	name string
	typ  identification.Type
	// owed: the process owes a settlement (identification.Settlement): a
	// read or an attempt writes it.
	owed bool
	// seed makes a process of ref in this state at now, with its code
	// material; nil for a keyedCreate state.
	seed func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial)
	// keyedCreate: the process is created by its type's create route with
	// an Idempotency-Key (a delete then erases the key's record too).
	keyedCreate bool
	// endpoint, for the webhook routes that name an endpoint (their typ is
	// none), stores the endpoint and what its log holds (seedEndpoint).
	endpoint func(ctx context.Context, s *dynamostore.Store, w webhookRef, now time.Time) error
}

// webhookRef names what a webhook route acts on: an endpoint of org and,
// for a replay, one delivery of its log ("" when the route names none).
type webhookRef struct {
	org, endpoint, delivery string
}

// seedEndpoint stores an enabled endpoint w.endpoint of w.org, registered
// an hour before now, wanting every event, its secret sealed as the
// registration seals it; and, when w names a delivery, that delivery of a
// process's completion in its log, delivered.
func seedEndpoint(ctx context.Context, s *dynamostore.Store, w webhookRef, now time.Time) error {
	secret, err := webhooks.NewSecret()
	if err != nil {
		return err
	}
	sealed, err := fixture.CodeKeys().Seal(webhooks.SecretPurpose, webhooks.SecretOwner(w.org, w.endpoint), []byte(secret))
	if err != nil {
		return err
	}
	at := now.Add(-time.Hour)
	e := &webhooks.Endpoint{ID: w.endpoint, OrgID: w.org, URL: "https://hooks.acme.example/idadmin", Events: []string{webhooks.AllEvents}, Description: "seed",
		Status: webhooks.StatusEnabled, CreatedAt: at, UpdatedAt: at, Version: 1}
	if err := s.CreateEndpoint(ctx, webhooks.Stored{Endpoint: e, Secret: sealed}); err != nil {
		return err
	}
	if w.delivery == "" {
		return nil
	}
	ev := identification.Event{DetailType: "identification.completed", OrgID: w.org, ID: "0196f3b2-8c4d-7a1e-9b2f-3c4d5e6f7a81",
		Type: identification.TypeOTP, Status: identification.StatusCompleted, Previous: identification.StatusInProgress, Version: 3, At: at}
	delivered := at.Add(time.Second)
	d := webhooks.Delivery{ID: w.delivery, EndpointID: w.endpoint, OrgID: w.org, EventType: ev.DetailType, IdentificationID: ev.ID,
		Version: ev.Version, Status: webhooks.DeliveryDelivered, Attempts: 1, LastStatusCode: 204, DeliveredAt: &delivered, At: at}
	return s.SaveDelivery(ctx, d, ev)
}

// process is an open (CREATED) process of ref at now, created two minutes
// before, expiring in an hour: an OTP identification with a code its
// organisation delivers, or a chain of an OTP step (the service
// delivering its code), an AGENT step and an IDENTITY_DOCUMENT step.
func process(ref identification.Ref, now time.Time) *identification.Identification {
	created := now.Add(-2 * time.Minute)
	i := &identification.Identification{
		ID: ref.ID, OrgID: ref.Org, Type: ref.Type, Status: identification.StatusCreated,
		CreatedAt: created, UpdatedAt: created, ExpiresAt: now.Add(time.Hour), Version: 1, CreatedUserAgent: "seed",
		Actor: identification.Actor{Name: "James", LastName: "Smith", Email: "example@email.com", Language: "ES",
			IdentityDocument: &identification.IdentityDocument{DocumentNumber: seedTwoFactor, DocumentType: "NIF"},
			MSISDN:           &identification.MSISDN{PhoneNumber: "6123456789", CountryCode: "34"}},
		History: []identification.HistoryEntry{{At: created, Action: identification.ActionCreate, To: identification.StatusCreated, ByKind: identification.CallerAdmin, BySub: "seed"}},
	}
	if ref.Type == identification.TypeOTP {
		i.TwoFactorType = "DOCUMENT_NUMBER"
		i.Channel = &identification.Channel{Type: "SMS", External: true}
	} else {
		i.Sequence = []identification.Step{
			{IdentificationType: identification.StepOTP, OTPStep: &identification.OTPStep{TwoFactorType: "DOCUMENT_NUMBER", Channel: &identification.Channel{Type: "SMS"}}},
			{IdentificationType: identification.StepAgent},
			{IdentificationType: identification.StepIdentityDocument, IdentityDocumentStep: &identification.IdentityDocumentStep{ProviderType: "INTERNAL"}},
		}
	}
	i.SyncSteps()
	return i
}

// issue gives i a code, seedCode, issued an hour ago and valid for 30
// minutes more.
func issue(i *identification.Identification, now time.Time) *identification.CodeMaterial {
	hash, key := fixture.CodeKeys().Hash(i.Ref(), seedCode)
	i.OTP = &identification.OTPState{CodesSent: 1, CodeExpiresAt: now.Add(30 * time.Minute), LastCodeAt: now.Add(-time.Hour),
		Delivery: identification.Delivery{Status: identification.DeliveryPending}}
	return &identification.CodeMaterial{Hash: hash, KeyID: key}
}

// atStep starts the chain on seedDevice at its step n.
func atStep(i *identification.Identification, n int) {
	progress(i, identification.ActionStart)
	i.Device, i.CurrentStep = &seedDevice, n
	i.SyncSteps()
}

// progress moves i to IN_PROGRESS, as the actor's action did when it was
// created.
func progress(i *identification.Identification, action identification.Action) {
	i.Status = identification.StatusInProgress
	i.History = append(i.History, identification.HistoryEntry{At: i.CreatedAt, Action: string(action), To: identification.StatusInProgress, ByKind: identification.CallerActor})
}

// spent counts the five attempts, a minute ago (past SettleGrace), one of
// them right when right: the process then owes the completion, else the
// failure.
func spent(i *identification.Identification, code *identification.CodeMaterial, now time.Time, right bool) {
	if i.Status != identification.StatusInProgress {
		progress(i, identification.ActionAttempt)
	}
	i.UpdatedAt = now.Add(-time.Minute)
	i.OTP.Attempts = identification.MaxAttempts
	guess := identification.GuessOf(code.Hash, "wrong")
	if right {
		guess = identification.GuessOf(code.Hash, identification.NormalisedTwoFactor(identification.TwoFactorTypeOf(i), seedTwoFactor))
	}
	code.Guesses = []string{guess}
}

// withDocument makes i an OTP identification whose second factor is the
// images of an identity document.
func withDocument(i *identification.Identification) {
	i.TwoFactorType = "PERSONAL_DOCUMENT_IMAGE"
}

// withImages records both sides of a document, each a version of its own.
func withImages(i *identification.Identification, now time.Time) {
	for _, k := range []identification.EvidenceKind{identification.EvidenceDocumentFront, identification.EvidenceDocumentBack} {
		i.Evidence = append(i.Evidence, identification.Evidence{Kind: k, Key: "orgs/" + i.OrgID + "/seed/" + string(k) + ".png", VersionID: "v-" + string(k),
			ContentType: "image/png", Size: 100, At: now, ByKind: identification.CallerActor})
	}
}

// routeStates are the states every route of a type is driven in (the
// webhook routes that name an endpoint: those with an endpoint).
var routeStates = []routeState{
	{name: "created", typ: identification.TypeOTP, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		return i, issue(i, now)
	}},
	{name: "created, its code delivered by the service", typ: identification.TypeOTP, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		i.Channel.External = false
		return i, issue(i, now)
	}},
	{name: "created with an Idempotency-Key", typ: identification.TypeOTP, keyedCreate: true},
	{name: "awaiting document images", typ: identification.TypeOTP, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		withDocument(i)
		return i, issue(i, now)
	}},
	{name: "validated, both images in", typ: identification.TypeOTP, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		withDocument(i)
		code := issue(i, now)
		progress(i, identification.ActionAttempt)
		i.OTP.Validated = true
		withImages(i, now)
		return i, code
	}},
	{name: "owing the completion of a right guess", typ: identification.TypeOTP, owed: true, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		code := issue(i, now)
		spent(i, code, now, true)
		return i, code
	}},
	{name: "owing the completion of a right guess, expired since", typ: identification.TypeOTP, owed: true, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		code := issue(i, now)
		spent(i, code, now, true)
		i.ExpiresAt = now.Add(-time.Second)
		return i, code
	}},
	{name: "owing the completion of a right guess, document images awaited", typ: identification.TypeOTP, owed: true, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		withDocument(i)
		code := issue(i, now)
		spent(i, code, now, true)
		return i, code
	}},
	{name: "owing its failure", typ: identification.TypeOTP, owed: true, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		code := issue(i, now)
		spent(i, code, now, false)
		return i, code
	}},

	{name: "created", typ: identification.TypeChain, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		return process(ref, now), nil
	}},
	{name: "created with an Idempotency-Key", typ: identification.TypeChain, keyedCreate: true},
	{name: "at its OTP step", typ: identification.TypeChain, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		atStep(i, 1)
		return i, issue(i, now)
	}},
	{name: "at its AGENT step", typ: identification.TypeChain, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		atStep(i, 2)
		return i, nil
	}},
	{name: "at its IDENTITY_DOCUMENT step", typ: identification.TypeChain, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		atStep(i, 3)
		return i, nil
	}},
	{name: "at its IDENTITY_DOCUMENT step, both images in", typ: identification.TypeChain, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		atStep(i, 3)
		withImages(i, now)
		return i, nil
	}},
	{name: "owing the completion of a right guess at its OTP step", typ: identification.TypeChain, owed: true, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		atStep(i, 1)
		code := issue(i, now)
		spent(i, code, now, true)
		return i, code
	}},
	{name: "owing the completion of a right guess at its OTP step, expired since", typ: identification.TypeChain, owed: true, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		atStep(i, 1)
		code := issue(i, now)
		spent(i, code, now, true)
		i.ExpiresAt = now.Add(-time.Second)
		return i, code
	}},
	{name: "owing its failure at its OTP step", typ: identification.TypeChain, owed: true, seed: func(ref identification.Ref, now time.Time) (*identification.Identification, *identification.CodeMaterial) {
		i := process(ref, now)
		atStep(i, 1)
		code := issue(i, now)
		spent(i, code, now, false)
		return i, code
	}},

	{name: "a webhook endpoint with a delivery in its log", endpoint: seedEndpoint},
}
