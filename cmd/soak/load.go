package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// soakOrg is the organisation the workload runs in.
const soakOrg = "soak"

// Statuses the soak tracks; GONE is a deleted identification.
const (
	stCreated   = "CREATED"
	stCancelled = "CANCELLED"
	stClosed    = "CLOSED"
	stGone      = "GONE"
)

// record is what the 2xx answers say one identification must be.
type record struct {
	mu      sync.Mutex
	kind    string // otp or chain
	id      string
	status  string
	version int
	reason  string
	// wins counts 2xx transitions: more than one is two winners.
	wins int
	// deletes counts delete attempts, after which a 404 is explicable.
	deletes int
}

func (r *record) path() string {
	return "/v1/orgs/" + soakOrg + "/identifications/" + r.kind + "/" + r.id
}

// records is every identification the workload created.
type records struct {
	mu   sync.Mutex
	list []*record
}

func (rs *records) add(r *record) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	rs.list = append(rs.list, r)
}

// pick returns a record, most often one of the newest (so that workers
// race on the same identifications), or nil when there is none yet.
func (rs *records) pick(rng *rand.Rand) *record {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	n := len(rs.list)
	if n == 0 {
		return nil
	}
	if rng.IntN(10) < 7 {
		return rs.list[n-1-rng.IntN(min(n, 48))]
	}
	return rs.list[rng.IntN(n)]
}

func (rs *records) all() []*record {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	return append([]*record(nil), rs.list...)
}

// load is the workload and what it observed.
type load struct {
	base, admin, other string
	client             *http.Client
	concurrency        int
	stats              *stats
	records            records
	sent               atomic.Int64
	reasons            atomic.Int64

	mu         sync.Mutex
	violations []string
	mismatches []string
}

func newLoad(base, admin, other string, concurrency int, timeout time.Duration) *load {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = concurrency * 2
	tr.MaxIdleConnsPerHost = concurrency * 2
	return &load{
		base: base, admin: admin, other: other, concurrency: concurrency,
		client: &http.Client{Transport: tr, Timeout: timeout},
		stats:  newStats(),
	}
}

func (l *load) violation(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.violations) < 1000 {
		l.violations = append(l.violations, fmt.Sprintf(format, args...))
	}
}

// run drives the workload from l.concurrency workers until d has passed,
// max requests were sent or ctx ends.
func (l *load) run(ctx context.Context, d time.Duration, max int64) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	l.stats.begin()
	var wg sync.WaitGroup
	for w := 0; w < l.concurrency; w++ {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for ctx.Err() == nil && l.sent.Add(1) <= max {
				l.step(rng)
			}
		})
	}
	wg.Wait()
	l.stats.end()
}

// The workload mix, in parts of 100.
var mix = []struct {
	weight int
	op     func(l *load, rng *rand.Rand)
}{
	{18, (*load).createOTP},
	{10, (*load).createChain},
	{20, (*load).get},
	{14, (*load).cancel},
	{10, (*load).close},
	{5, (*load).deleteOTP},
	{3, (*load).forceDeleteOTP},
	{8, (*load).badRequest},
	{6, (*load).notFound},
	{6, (*load).otherOrg},
}

func (l *load) step(rng *rand.Rand) {
	n := rng.IntN(100)
	for _, m := range mix {
		if n < m.weight {
			m.op(l, rng)
			return
		}
		n -= m.weight
	}
}

// exchange is one answered request.
type exchange struct {
	status int
	body   []byte
	ok     bool // false: no answer (the error is counted)
}

// do sends one request and records it under route.
func (l *load) do(route, method, path, token, body string) exchange {
	var rd io.Reader
	if body != "" {
		rd = bytes.NewReader([]byte(body))
	}
	req, err := http.NewRequest(method, l.base+path, rd)
	if err != nil {
		panic(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("User-Agent", "soak/1.0")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	start := time.Now()
	resp, err := l.client.Do(req)
	if err != nil {
		l.stats.record(route, 0, time.Since(start))
		l.violation("%s %s: %v", method, path, err)
		return exchange{}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil {
		l.stats.record(route, 0, took)
		l.violation("%s %s: reading the answer: %v", method, path, err)
		return exchange{}
	}
	l.stats.record(route, resp.StatusCode, took)
	if resp.StatusCode >= 500 {
		l.violation("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return exchange{status: resp.StatusCode, body: b, ok: true}
}

func (l *load) expect(route string, x exchange, allowed ...int) bool {
	if !x.ok {
		return false
	}
	for _, s := range allowed {
		if x.status == s {
			return true
		}
	}
	l.violation("%s: unexpected %d %s", route, x.status, x.body)
	return false
}

// Actors of the workload: their data must never reach the server's log.
var actors = func() []string {
	var out []string
	for i := 0; i < 16; i++ {
		out = append(out, fmt.Sprintf(`{"name":"Soakname%02d","last_name":"Soaklast%02d","email":"soak.actor%02d@soak-example.org","identity_document":{"document_number":"SOAKDOC%05d","document_type":"PASSPORT"},"msisdn":{"phone_number":69%07d,"country_code":"34"}}`,
			i, i, i, 10000+i, 1234500+i))
	}
	return out
}()

// pii returns the actor values to look for in the server's log.
func (l *load) pii() []string {
	var out []string
	for i := 0; i < 16; i++ {
		out = append(out, fmt.Sprintf("Soakname%02d", i), fmt.Sprintf("Soaklast%02d", i), fmt.Sprintf("soak.actor%02d@soak-example.org", i),
			fmt.Sprintf("SOAKDOC%05d", 10000+i), fmt.Sprintf("69%07d", 1234500+i))
	}
	return out
}

func (l *load) createOTP(rng *rand.Rand) {
	// The organisation delivers the code: the stream processor's delivery
	// would change the version the oracle expects.
	body := `{"actor":` + actors[rng.IntN(len(actors))] + `,"expires_in":"PT30M","two_factor_type":"DOCUMENT_NUMBER","channel":{"type":"SMS","external":true}}`
	l.create("create-otp", "otp", body)
}

func (l *load) createChain(rng *rand.Rand) {
	body := `{"actor":` + actors[rng.IntN(len(actors))] + `,"expires_in":"PT30M","sequence":[{"identification_type":"OTP","otp_step":{"channel":{"type":"EMAIL"}}},{"identification_type":"AGENT"},{"identification_type":"IDENTITY_DOCUMENT"}]}`
	l.create("create-chain", "chain", body)
}

func (l *load) create(route, kind, body string) {
	x := l.do(route, http.MethodPost, "/v1/orgs/"+soakOrg+"/identifications/"+kind, l.admin, body)
	if !l.expect(route, x, http.StatusCreated) {
		return
	}
	var got struct {
		ID      string `json:"id"`
		Status  string `json:"status"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(x.body, &got); err != nil || got.ID == "" || got.Status != stCreated || got.Version != 1 {
		l.violation("%s: 201 with %s", route, x.body)
		return
	}
	l.records.add(&record{kind: kind, id: got.ID, status: stCreated, version: 1})
}

func (l *load) get(rng *rand.Rand) {
	r := l.records.pick(rng)
	if r == nil {
		return
	}
	r.mu.Lock()
	before, deletes := r.status, r.deletes
	r.mu.Unlock()
	route := "get-" + r.kind
	x := l.do(route, http.MethodGet, r.path(), l.admin, "")
	if !l.expect(route, x, http.StatusOK, http.StatusNotFound) {
		return
	}
	if x.status == http.StatusNotFound {
		if deletes == 0 {
			r.mu.Lock()
			deletes = r.deletes
			r.mu.Unlock()
			if deletes == 0 {
				l.violation("%s %s: 404 for a record never deleted", route, r.id)
			}
		}
		return
	}
	var got struct{ Status string }
	json.Unmarshal(x.body, &got)
	// A settled record reads as settled: final statuses never change and
	// a deleted record never comes back.
	switch before {
	case stGone:
		l.violation("%s %s: deleted, yet read back as %s", route, r.id, got.Status)
	case stCancelled, stClosed:
		if got.Status != before {
			l.violation("%s %s: was %s, read back as %s", route, r.id, before, got.Status)
		}
	}
}

func (l *load) cancel(rng *rand.Rand) {
	r := l.records.pick(rng)
	if r == nil {
		return
	}
	reason := "soak-" + strconv.FormatInt(l.reasons.Add(1), 10)
	route := "cancel-" + r.kind
	x := l.do(route, http.MethodPost, r.path()+"/cancel", l.admin, `{"reason":"`+reason+`"}`)
	if l.expect(route, x, http.StatusNoContent, http.StatusConflict, http.StatusNotFound) && x.status == http.StatusNoContent {
		l.won(r, route, stCancelled, reason)
	}
}

func (l *load) close(rng *rand.Rand) {
	r := l.records.pick(rng)
	if r == nil {
		return
	}
	route := "close-" + r.kind
	x := l.do(route, http.MethodPost, r.path()+"/close", l.admin, "")
	if l.expect(route, x, http.StatusNoContent, http.StatusConflict, http.StatusNotFound) && x.status == http.StatusNoContent {
		l.won(r, route, stClosed, "")
	}
}

// won applies a 2xx transition to the record.
func (l *load) won(r *record, route, status, reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.wins++
	if r.wins > 1 {
		l.violation("%s %s: a second transition succeeded (now %s)", route, r.id, status)
		return
	}
	if r.status == stGone {
		// A forced delete of the ended record answered first.
		return
	}
	r.status, r.version, r.reason = status, 2, reason
}

func (l *load) deleteOTP(rng *rand.Rand)      { l.delete(rng, false) }
func (l *load) forceDeleteOTP(rng *rand.Rand) { l.delete(rng, true) }

func (l *load) delete(rng *rand.Rand, force bool) {
	r := l.records.pick(rng)
	if r == nil || r.kind != "otp" {
		return
	}
	r.mu.Lock()
	r.deletes++
	r.mu.Unlock()
	route, path := "delete-otp", r.path()
	if force {
		route, path = "delete-otp force", path+"?force=true"
	}
	x := l.do(route, http.MethodDelete, path, l.admin, "")
	if !l.expect(route, x, http.StatusNoContent, http.StatusForbidden, http.StatusNotFound) || x.status != http.StatusNoContent {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case r.status == stGone:
		l.violation("%s %s: deleted twice", route, r.id)
	case !force && r.wins > 0:
		l.violation("%s %s: a plain delete succeeded on a %s record", route, r.id, r.status)
	}
	r.status = stGone
}

func (l *load) badRequest(rng *rand.Rand) {
	id := uuid.NewString()
	switch rng.IntN(4) {
	case 0:
		x := l.do("bad create-otp", http.MethodPost, "/v1/orgs/"+soakOrg+"/identifications/otp", l.admin, `{"actor":`+actors[0]+`,"channel":{"type":"PIGEON"},"expires_in":"P1M"}`)
		l.expect("bad create-otp", x, http.StatusBadRequest)
	case 1:
		x := l.do("bad get-otp", http.MethodGet, "/v1/orgs/"+soakOrg+"/identifications/otp/not-a-uuid", l.admin, "")
		l.expect("bad get-otp", x, http.StatusBadRequest)
	case 2:
		x := l.do("bad delete-otp", http.MethodDelete, "/v1/orgs/"+soakOrg+"/identifications/otp/"+id+"?force=yes", l.admin, "")
		l.expect("bad delete-otp", x, http.StatusBadRequest)
	default:
		x := l.do("bad cancel-otp", http.MethodPost, "/v1/orgs/"+soakOrg+"/identifications/otp/"+id+"/cancel", l.admin, `{"reason":""}`)
		l.expect("bad cancel-otp", x, http.StatusBadRequest)
	}
}

func (l *load) notFound(rng *rand.Rand) {
	kind := []string{"otp", "chain"}[rng.IntN(2)]
	path := "/v1/orgs/" + soakOrg + "/identifications/" + kind + "/" + uuid.NewString()
	x := l.do("missing get-"+kind, http.MethodGet, path, l.admin, "")
	l.expect("missing get-"+kind, x, http.StatusNotFound)
}

// otherOrg acts on the soak's records with another org's token: on the
// soak org's path (401) and on its own path (404).
func (l *load) otherOrg(rng *rand.Rand) {
	r := l.records.pick(rng)
	if r == nil {
		return
	}
	x := l.do("other-org cancel", http.MethodPost, r.path()+"/cancel", l.other, `{"reason":"not yours"}`)
	l.expect("other-org cancel", x, http.StatusUnauthorized)
	path := "/v1/orgs/soak-other-org/identifications/" + r.kind + "/" + r.id
	x = l.do("other-org close", http.MethodPost, path+"/close", l.other, "")
	l.expect("other-org close", x, http.StatusNotFound)
}

// verify reads every record back and compares it with what the 2xx
// answers said it must be.
func (l *load) verify(ctx context.Context) {
	all := l.records.all()
	next := atomic.Int64{}
	var wg sync.WaitGroup
	for w := 0; w < l.concurrency; w++ {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(len(all)) {
					return
				}
				l.verifyOne(all[i])
			}
		})
	}
	wg.Wait()
}

func (l *load) verifyOne(r *record) {
	route := "verify get-" + r.kind
	x := l.do(route, http.MethodGet, r.path(), l.admin, "")
	if !x.ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	mismatch := func(format string, args ...any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.mismatches = append(l.mismatches, fmt.Sprintf("%s %s: ", r.kind, r.id)+fmt.Sprintf(format, args...))
	}
	if r.status == stGone {
		if x.status != http.StatusNotFound {
			mismatch("deleted, yet %d %s (phantom)", x.status, x.body)
		}
		return
	}
	if x.status != http.StatusOK {
		mismatch("want %s version %d, got %d %s (lost)", r.status, r.version, x.status, x.body)
		return
	}
	var got struct {
		Status       string `json:"status"`
		Version      int    `json:"version"`
		CancelReason string `json:"cancel_reason"`
	}
	if err := json.Unmarshal(x.body, &got); err != nil {
		mismatch("unreadable %s", x.body)
		return
	}
	if got.Status != r.status || got.Version != r.version || got.CancelReason != r.reason {
		mismatch("want %s version %d reason %q, got %s version %d reason %q", r.status, r.version, r.reason, got.Status, got.Version, got.CancelReason)
	}
}
