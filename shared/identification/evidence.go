package identification

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// EvidenceKind is what an evidence image shows.
type EvidenceKind string

// The evidence kinds (docs/evidence.md).
const (
	EvidenceDocumentFront EvidenceKind = "DOCUMENT_FRONT"
	EvidenceDocumentBack  EvidenceKind = "DOCUMENT_BACK"
	EvidenceSelfie        EvidenceKind = "SELFIE"
	EvidenceAgentImage    EvidenceKind = "AGENT_IMAGE"
)

// EvidenceKinds lists every kind.
var EvidenceKinds = []EvidenceKind{EvidenceDocumentFront, EvidenceDocumentBack, EvidenceSelfie, EvidenceAgentImage}

// DocumentSides are the images a document check needs; the selfie is
// optional.
var DocumentSides = []EvidenceKind{EvidenceDocumentFront, EvidenceDocumentBack}

// The image types an upload may have, and the extension of their keys.
var evidenceTypes = map[string]string{"image/jpeg": "jpg", "image/png": "png"}

// Evidence is one image as recorded: where it is, what it is, who sent it.
// VersionID pins the object version that was checked: the form could
// still post other bytes under Key, and every later read (a download link,
// the removal) is of this version.
type Evidence struct {
	Kind        EvidenceKind
	Key         string
	VersionID   string
	ContentType string
	Size        int64
	At          time.Time
	ByKind      CallerKind
	BySub       string
}

// DocumentDecision is the review or the provider's decision on a chain's
// IDENTITY_DOCUMENT step.
type DocumentDecision struct {
	Approved bool
	Reason   string
	ByKind   CallerKind
	BySub    string
	At       time.Time
}

// The decisions a reviewer or a provider posts.
const (
	DecisionApproved = "APPROVED"
	DecisionRejected = "REJECTED"
)

// EvidenceOf returns the recorded image of kind, nil when none.
func (i *Identification) EvidenceOf(kind EvidenceKind) *Evidence {
	for n := range i.Evidence {
		if i.Evidence[n].Kind == kind {
			return &i.Evidence[n]
		}
	}
	return nil
}

// hasDocument reports whether both sides of the document are in.
func (i *Identification) hasDocument() bool {
	return i.EvidenceOf(EvidenceDocumentFront) != nil && i.EvidenceOf(EvidenceDocumentBack) != nil
}

// UploadForm is a presigned POST form: the actor's client posts the fields
// and then the file, as multipart/form-data, to URL before Expires.
type UploadForm struct {
	URL     string
	Fields  map[string]string
	Expires time.Time
}

// StoredObject is what the evidence store found under a key.
type StoredObject struct {
	Size        int64
	ContentType string
	// StoredAt is when its upload completed (zero when unknown).
	StoredAt time.Time
	// VersionID is the version read and checked.
	VersionID string
}

// UploadTTL is how long an upload form works; S3 refuses an upload begun
// after it. uploadGrace is how long after that an upload begun in time may
// still complete.
const (
	UploadTTL   = 5 * time.Minute
	uploadGrace = time.Minute
)

// EvidenceObjects is where the images are: a private, versioned bucket
// that signs upload forms and download links, inspects what was uploaded
// and removes it. Inspect fails with KindMismatch for an object that is
// missing, empty, too large, not a JPEG or PNG by its first bytes, or not
// of contentType, and reports the version it checked; PresignGet links
// that version. Remove deletes the version, and every other version the
// key holds, for good. Any of them fails with KindUnavailable when the
// bucket cannot be reached or asks to retry later.
type EvidenceObjects interface {
	PresignPost(ctx context.Context, key, contentType string, now time.Time) (UploadForm, error)
	Inspect(ctx context.Context, key, contentType string) (StoredObject, error)
	PresignGet(ctx context.Context, key, versionID string, ttl time.Duration, now time.Time) (string, error)
	Remove(ctx context.Context, key, versionID string) error
}

// WithEvidence gives the service the evidence bucket.
func WithEvidence(o EvidenceObjects) Option { return func(s *Service) { s.objects = o } }

// HasEvidence reports whether the service was built with the bucket.
func (s *Service) HasEvidence() bool { return s.objects != nil }

// UploadRequest is the body of an uploads request: the files the client
// will upload.
type UploadRequest struct {
	Files []UploadFile
}

// UploadFile is one file of an UploadRequest.
type UploadFile struct {
	Kind        EvidenceKind
	ContentType string
}

// Upload is one form handed out.
type Upload struct {
	Kind EvidenceKind
	Key  string
	Form UploadForm
}

// CheckFileCount records in p the rule a list of n files breaks, if any: an
// uploads request lists 1 to len(EvidenceKinds) files. It reports whether
// n keeps it.
func CheckFileCount(p *Problems, n int) bool {
	if n == 0 || n > len(EvidenceKinds) {
		p.Add("files", "is required: a list of 1 to %d files", len(EvidenceKinds))
		return false
	}
	return true
}

// AddFile appends f, the file at index n of the request's list, and records
// in p the rules it breaks: a kind of EvidenceKinds that no file before it
// has, a content type of image/jpeg or image/png.
func (r *UploadRequest) AddFile(p *Problems, n int, f UploadFile) {
	path := fmt.Sprintf("files[%d]", n)
	switch {
	case !slices.Contains(EvidenceKinds, f.Kind):
		p.Add(path+".kind", "must be one of DOCUMENT_FRONT, DOCUMENT_BACK, SELFIE, AGENT_IMAGE")
	case slices.ContainsFunc(r.Files, func(o UploadFile) bool { return o.Kind == f.Kind }):
		p.Add(path+".kind", "must not repeat a kind listed before")
	}
	if _, ok := evidenceTypes[f.ContentType]; !ok && !p.Bad(path+".content_type") {
		p.Add(path+".content_type", "must be image/jpeg or image/png")
	}
	r.Files = append(r.Files, f)
}

// Validate returns every rule the request breaks, each with its field path.
func (r UploadRequest) Validate() []FieldError {
	p := &Problems{}
	if CheckFileCount(p, len(r.Files)) {
		var checked UploadRequest
		for n, f := range r.Files {
			checked.AddFile(p, n, f)
		}
	}
	return p.list
}

// EvidenceConfirm is the body of a confirm: the kind and the key of the
// form it was uploaded with.
type EvidenceConfirm struct {
	Kind EvidenceKind
	Key  string
}

// Check records the rules the confirm breaks in p: a kind of EvidenceKinds,
// a key of 1 to 1024 characters.
func (c *EvidenceConfirm) Check(p *Problems) {
	if !slices.Contains(EvidenceKinds, c.Kind) && !p.Bad("kind") {
		p.Add("kind", "must be one of DOCUMENT_FRONT, DOCUMENT_BACK, SELFIE, AGENT_IMAGE")
	}
	if (c.Key == "" || len(c.Key) > 1024) && !p.Bad("key") {
		p.Add("key", "is required: the key of the upload form, 1 to 1024 characters")
	}
}

// Validate returns every rule the confirm breaks, each with its field path.
func (c EvidenceConfirm) Validate() []FieldError {
	p := &Problems{}
	c.Check(p)
	return p.list
}

// DecisionInput is the body of a document decision.
type DecisionInput struct {
	Decision string
	Reason   string
}

// Check records the rules the decision breaks in p: APPROVED or REJECTED,
// and a reason (1 to 500 characters) that a rejection needs and an
// approval may carry. The reason is kept in NFC, trimmed.
func (d *DecisionInput) Check(p *Problems) {
	d.Reason = nfc(d.Reason)
	if d.Decision != DecisionApproved && d.Decision != DecisionRejected && !p.Bad("decision") {
		p.Add("decision", "is required: APPROVED or REJECTED")
	}
	if !p.Bad("reason") {
		if msg := checkReason(d.Reason, d.Decision == DecisionRejected); msg != "" {
			p.Add("reason", "%s", msg)
		}
	}
	d.Reason = strings.TrimSpace(d.Reason)
}

// Validate returns every rule the decision breaks, each with its field path.
func (d DecisionInput) Validate() []FieldError {
	p := &Problems{}
	d.Check(p)
	return p.list
}

// kindsFor are the kinds a caller may upload for i now, or why none.
func kindsFor(i *Identification, by Caller) ([]EvidenceKind, *Error) {
	switch {
	case i.Type == TypeOTP:
		if i.TwoFactorType != "PERSONAL_DOCUMENT_IMAGE" {
			return nil, Errorf(KindConflict, "this identification takes no document images (its two_factor_type is not PERSONAL_DOCUMENT_IMAGE)")
		}
		return DocumentSides, nil
	case by.Kind == CallerAgent:
		if i.CurrentStepType() != StepAgent {
			return nil, stepConflict(i)
		}
		return []EvidenceKind{EvidenceAgentImage}, nil
	default:
		if i.CurrentStepType() != StepIdentityDocument {
			return nil, stepConflict(i)
		}
		if i.Decision != nil {
			return nil, Errorf(KindConflict, "the document has been decided on")
		}
		return []EvidenceKind{EvidenceDocumentFront, EvidenceDocumentBack, EvidenceSelfie}, nil
	}
}

// evidenceGuard refuses what the state of i does not allow a caller to
// upload or record: the status, the expiry, the device, the step.
func evidenceGuard(i *Identification, by Caller, kinds []EvidenceKind, now time.Time) error {
	if i.Status.Final() || i.Status == StatusCompleted || i.ExpiredAt(now) {
		seen := i.AsSeenAt(now)
		if seen.Status == StatusExpired || seen.Status == StatusFailed {
			return Errorf(KindExpired, "identification is %s; evidence is no longer taken", seen.Status)
		}
		return Errorf(KindConflict, "identification is %s; evidence is no longer taken", seen.Status)
	}
	if i.Type == TypeChain && by.Kind == CallerActor {
		if i.Device == nil {
			return Errorf(KindConflict, "the chain has not been started; validate the chain first")
		}
		if !i.Device.SameAs(by.Device) {
			return Errorf(KindConflict, "the chain is bound to another device")
		}
	}
	allowed, err := kindsFor(i, by)
	if err != nil {
		return err
	}
	for _, k := range kinds {
		if !slices.Contains(allowed, k) {
			return Errorf(KindConflict, "%s is not taken now: this step takes %s", k, joinKinds(allowed))
		}
	}
	return nil
}

func joinKinds(ks []EvidenceKind) string {
	s := make([]string, len(ks))
	for n, k := range ks {
		s[n] = string(k)
	}
	return strings.Join(s, ", ")
}

// RequestUploads hands out one presigned upload form per file asked for,
// for the kinds the process takes now from this caller (one store call: a
// read). Nothing is recorded: each form's key carries a MAC binding it to
// the process and the kind, which the confirm checks.
func (s *Service) RequestUploads(ctx context.Context, ref Ref, in UploadRequest, by Caller) ([]Upload, error) {
	if s.objects == nil || s.keys == nil {
		return nil, errors.New("request uploads: the service has no evidence bucket or code keys")
	}
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("request uploads for %s: %w", ref.ID, err)
	}
	now := s.Now()
	kinds := make([]EvidenceKind, len(in.Files))
	for n, f := range in.Files {
		kinds[n] = f.Kind
	}
	if err := evidenceGuard(i, by, kinds, now); err != nil {
		return nil, err
	}
	out := make([]Upload, len(in.Files))
	for n, f := range in.Files {
		key, err := s.keys.evidenceKey(ref, f.Kind, f.ContentType, now)
		if err != nil {
			return nil, err
		}
		form, err := s.objects.PresignPost(ctx, key, f.ContentType, now)
		if err != nil {
			return nil, fmt.Errorf("sign the upload form: %w", err)
		}
		out[n] = Upload{Kind: f.Kind, Key: key, Form: form}
	}
	return out, nil
}

func evidencePrefix(ref Ref, kind EvidenceKind) string {
	return "orgs/" + ref.Org + "/" + strings.ToLower(string(ref.Type)) + "/" + ref.ID + "/" + string(kind) + "/"
}

// ConfirmEvidence records the image uploaded with a form: the key must be
// one handed out for this process and kind, and the object under it a JPEG
// or PNG of at most 5 MiB of the form's type (KindMismatch otherwise,
// nothing recorded). For an OTP identification whose code was validated
// and whose other side is in, the same confirm completes it. Store calls:
// a read and the write (and the completion).
func (s *Service) ConfirmEvidence(ctx context.Context, ref Ref, in EvidenceConfirm, by Caller) error {
	if s.objects == nil || s.keys == nil {
		return errors.New("confirm evidence: the service has no evidence bucket or code keys")
	}
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("confirm evidence for %s: %w", ref.ID, err)
	}
	now := s.Now()
	if err := evidenceGuard(i, by, []EvidenceKind{in.Kind}, now); err != nil {
		return err
	}
	ct, issued, ok := s.keys.checkEvidenceKey(ref, in.Kind, in.Key)
	if !ok {
		return Errorf(KindConflict, "key: is not the key of an upload form handed out for this identification and kind")
	}
	obj, err := s.objects.Inspect(ctx, in.Key, ct)
	if err != nil {
		return err
	}
	if obj.VersionID == "" {
		// Without a version, what was checked is not what a link would
		// serve once the form posts again: record nothing.
		return errors.New("confirm evidence: the bucket answered without a version id: is the evidence bucket versioned?")
	}
	// S3 refuses an upload begun after the form expired; an engine that
	// does not (moto) is caught here by the object's own time.
	if !obj.StoredAt.IsZero() && obj.StoredAt.After(issued.Add(UploadTTL+uploadGrace)) {
		return Errorf(KindMismatch, "key: the file was uploaded after its form expired (forms work %d minutes); ask for a new form; nothing was recorded", int(UploadTTL.Minutes()))
	}
	ev := &Evidence{Kind: in.Kind, Key: in.Key, VersionID: obj.VersionID, ContentType: obj.ContentType, Size: obj.Size, At: now, ByKind: by.Kind, BySub: by.Sub}
	cmd := Command{Action: ActionAddEvidence, At: now, By: by, Evidence: ev}
	if i.Type == TypeChain {
		cmd.Step = i.CurrentStep
	}
	res, err := s.apply(ctx, ref, cmd)
	if err != nil {
		return err
	}
	return s.completeIfReady(context.WithoutCancel(ctx), ref, res.New, by)
}

// completeIfReady completes an OTP identification whose code was validated
// and whose document images are both in. Whichever of the code and the two
// images comes last sees the other two in the item its write returned (the
// writes to one item are ordered), so exactly one caller completes it; a
// completion refused because another completed it first is no error.
func (s *Service) completeIfReady(ctx context.Context, ref Ref, i *Identification, by Caller) error {
	if i == nil || i.Type != TypeOTP || i.Status != StatusInProgress || i.OTP == nil || !i.OTP.Validated || !i.hasDocument() {
		return nil
	}
	_, err := s.apply(ctx, ref, Command{Action: ActionCompleteEvidence, At: s.Now(), By: by})
	if KindOf(err) == KindConflict {
		return nil
	}
	return err
}

// DecideDocument is a reviewer's (INTERNAL) or a provider's (EXTERNAL)
// decision on the chain's current IDENTITY_DOCUMENT step, once both sides
// of the document are in: approval completes the step (and the chain when
// it is the last), rejection fails the chain (STEP_REJECTED). Two store
// calls: a read and the write.
func (s *Service) DecideDocument(ctx context.Context, ref Ref, in DecisionInput, by Caller) error {
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return fmt.Errorf("decide document of %s: %w", ref.ID, err)
	}
	now := s.Now()
	step := i.StepIndex(StepIdentityDocument)
	if step == 0 {
		return Errorf(KindConflict, "the chain has no IDENTITY_DOCUMENT step")
	}
	want := CallerReviewer
	if d := i.Sequence[step-1].IdentityDocumentStep; d != nil && d.ProviderType == "EXTERNAL" {
		want = CallerProvider
	}
	by, ok := by.WithKind(want)
	if !ok {
		return Errorf(KindForbidden, "this step's document is decided by the %s (provider_type %s)", want, map[CallerKind]string{CallerReviewer: "INTERNAL", CallerProvider: "EXTERNAL"}[want])
	}
	d := &DocumentDecision{Approved: in.Decision == DecisionApproved, Reason: in.Reason, ByKind: by.Kind, BySub: by.Sub, At: now}
	cmd := Command{Action: ActionApproveDocument, At: now, By: by, Step: step, Last: step == len(i.Sequence), Decision: d, Reason: in.Reason}
	if !d.Approved {
		cmd.Action = ActionRejectDocument
	}
	if d.Approved && !cmd.Last {
		if cmd.Code, err = s.codeOfStep(ctx, i, step+1, now); err != nil {
			return fmt.Errorf("decide document of %s: %w", ref.ID, err)
		}
	}
	_, err = s.apply(ctx, ref, cmd)
	return err
}

// DownloadLink is a short-lived link to one recorded image.
type DownloadLink struct {
	Evidence
	URL     string
	Expires time.Time
}

// DownloadTTL is how long an admin's download link works.
const DownloadTTL = 5 * time.Minute

// EvidenceLinks returns a presigned download link, valid DownloadTTL, for
// every image recorded for the process (one store call: a read).
func (s *Service) EvidenceLinks(ctx context.Context, ref Ref) ([]DownloadLink, error) {
	if s.objects == nil {
		return nil, errors.New("evidence links: the service has no evidence bucket")
	}
	i, err := s.store.Get(ctx, ref)
	if err != nil {
		return nil, fmt.Errorf("evidence of %s: %w", ref.ID, err)
	}
	now := s.Now()
	out := make([]DownloadLink, 0, len(i.Evidence))
	for _, ev := range i.Evidence {
		url, err := s.objects.PresignGet(ctx, ev.Key, ev.VersionID, DownloadTTL, now)
		if err != nil {
			return nil, fmt.Errorf("sign the download link: %w", err)
		}
		out = append(out, DownloadLink{Evidence: ev, URL: url, Expires: now.Add(DownloadTTL)})
	}
	return out, nil
}

// RemoveEvidence deletes for good every image recorded in evidence from
// objects: the version checked and every other version under its key (what
// the form posted after). The stream processor calls it on a deleted
// process's tombstone, with the stream's retries. Each kind is tried; the
// first error is returned.
func RemoveEvidence(ctx context.Context, objects EvidenceObjects, evidence []Evidence) error {
	var first error
	for _, ev := range evidence {
		if err := objects.Remove(ctx, ev.Key, ev.VersionID); err != nil && first == nil {
			first = fmt.Errorf("remove the %s image: %w", ev.Kind, err)
		}
	}
	return first
}
