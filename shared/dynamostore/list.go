package dynamostore

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/expression"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/idadmin/api/shared/identification"
)

// The listing indexes. Each is partitioned by one facet of a process and
// sorted by its position (ls: created_at, then id), so that any page of a
// facet, newest first, is one Query; they project every attribute, so the
// page needs no further read. Every facet value starts with the
// organisation and the type:
//
//	list-by-month     l_month    <org>#<TYPE>#<yyyymm of created_at>
//	list-by-status    l_status   <org>#<TYPE>#<status>
//	list-by-email     l_email    <org>#<TYPE>#<keyed hash of the e-mail address>
//	list-by-phone     l_phone    <org>#<TYPE>#<keyed hash of the E.164 number>
//	list-by-document  l_document <org>#<TYPE>#<keyed hash of the document number>
//
// An organisation's processes spread over one partition per month, per
// status and per person; what a page costs and where that stops scaling is
// in docs/api.md ("Listing and search").
const (
	IndexByMonth    = "list-by-month"
	IndexByStatus   = "list-by-status"
	IndexByEmail    = "list-by-email"
	IndexByPhone    = "list-by-phone"
	IndexByDocument = "list-by-document"

	attrPosition = "ls"
)

// ListIndexes are the listing indexes, each with its partition attribute.
var ListIndexes = map[string]string{
	IndexByMonth: "l_month", IndexByStatus: attrListStatus, IndexByEmail: "l_email",
	IndexByPhone: "l_phone", IndexByDocument: "l_document",
}

func facetPrefix(org string, t identification.Type) string { return org + "#" + string(t) + "#" }

// facetOf is the facet value of a keyed hash, "" (no index entry) for none.
func facetOf(prefix, hash string) string {
	if hash == "" {
		return ""
	}
	return prefix + hash
}

func monthOf(t time.Time) string { return t.UTC().Format("200601") }

// source is one facet a page reads: an index and the partitions to read in
// turn (months newest first), with the filter that makes what it reads
// exactly what the query asks for.
type source struct {
	index  string
	attr   string
	values []string
	filter *expression.ConditionBuilder
	// atLeast is the smallest Limit of its Queries: a filter that may
	// drop many of the items read (one person's processes, filtered by
	// status) reads ahead, so that one Query still fills the page.
	atLeast int
}

// personReadAhead is how many of one person's processes a filtered Query
// reads at least: more than a person is expected to have in an
// organisation within the retention period.
const personReadAhead = 250

// sweepLagReadAhead is how many more items a Query of an open status reads
// than the page needs, for the processes past their expiry that the sweep
// has not ended yet (it ends them within a minute of their expiry).
const sweepLagReadAhead = 10

// List answers one page of f (identification.Lister). It reads the facet
// that narrows the query most: a document number, an e-mail address or a
// phone (one person's processes, filtered by the rest of the query); else
// one partition per asked status; else the months, newest first. Each
// facet is read below the page's start for at most Limit+1 items, and the
// facets' items are merged by position: the first Limit are the page, one
// more means another page follows.
func (s *Store) List(ctx context.Context, f identification.ListFilter) (identification.ListPage, error) {
	sources := s.sources(f)
	lists := make([][]item, len(sources))
	errs := make([]error, len(sources))
	if len(sources) == 1 {
		lists[0], errs[0] = s.read(ctx, sources[0], f)
	} else {
		var wg sync.WaitGroup
		for n, src := range sources {
			wg.Go(func() { lists[n], errs[n] = s.read(ctx, src, f) })
		}
		wg.Wait()
	}
	var all []item
	for n := range lists {
		if errs[n] != nil {
			return identification.ListPage{}, errs[n]
		}
		all = append(all, lists[n]...)
	}
	slices.SortFunc(all, func(a, b item) int {
		switch {
		case a.ListPosition > b.ListPosition:
			return -1
		case a.ListPosition < b.ListPosition:
			return 1
		}
		return 0
	})
	all = slices.CompactFunc(all, func(a, b item) bool { return a.PK == b.PK })
	page := identification.ListPage{More: len(all) > f.Limit}
	if page.More {
		all = all[:f.Limit]
	}
	page.Items = make([]*identification.Identification, len(all))
	for n := range all {
		page.Items[n], _ = fromItem(all[n])
	}
	return page, nil
}

func (s *Store) sources(f identification.ListFilter) []source {
	prefix := facetPrefix(f.Org, f.Type)
	values := func(hashes []string) []string {
		out := make([]string, len(hashes))
		for n, h := range hashes {
			out[n] = prefix + h
		}
		return out
	}
	actor := []struct {
		index  string
		hashes []string
	}{{IndexByDocument, f.Document}, {IndexByEmail, f.Email}, {IndexByPhone, f.Phone}}
	for n, a := range actor {
		if a.hashes == nil {
			continue
		}
		// One person's processes: the rest of the query is a filter
		// on a partition that holds only theirs.
		var conds []expression.ConditionBuilder
		for _, other := range actor[n+1:] {
			if other.hashes != nil {
				conds = append(conds, in(ListIndexes[other.index], values(other.hashes)))
			}
		}
		if len(f.Statuses) > 0 {
			conds = append(conds, seenStatus(f.Statuses, f.Now))
		}
		src := source{index: a.index, attr: ListIndexes[a.index], values: values(a.hashes)}
		if len(conds) > 0 {
			src.atLeast = personReadAhead
			c := conds[0]
			for _, more := range conds[1:] {
				c = c.And(more)
			}
			src.filter = &c
		}
		// One source per key a value may have been hashed under, each
		// reading its own partition.
		var out []source
		for _, v := range src.values {
			one := src
			one.values = []string{v}
			out = append(out, one)
		}
		return out
	}
	if len(f.Statuses) > 0 {
		out := make([]source, 0, len(f.Statuses))
		for _, st := range f.Statuses {
			src := source{index: IndexByStatus, attr: attrListStatus, values: []string{prefix + string(st)}}
			if st.Open() {
				// An open process past its expiry reads as EXPIRED:
				// not one of these (the sweep moves it within a minute,
				// so the filter drops few, and then one more Query runs).
				c := name(attrExpiresAt).GreaterThan(expression.Value(f.Now.Unix()))
				src.filter, src.atLeast = &c, f.Limit+1+sweepLagReadAhead
			}
			out = append(out, src)
		}
		return out
	}
	return []source{{index: IndexByMonth, attr: ListIndexes[IndexByMonth], values: s.months(f, prefix)}}
}

// months are the month partitions a page may read, newest first: from the
// month of its upper bound down to the month of created_from, or of the
// oldest process that can still be kept (the longest expiry and the
// retention before now).
func (s *Store) months(f identification.ListFilter, prefix string) []string {
	top := f.Now
	if !f.To.IsZero() && f.To.Before(top) {
		top = f.To
	}
	if f.Before != "" {
		if t, ok := positionTime(f.Before); ok && t.Before(top) {
			top = t
		}
	}
	floor := f.Now.Add(-identification.MaxExpiresIn - s.retention - 24*time.Hour)
	if !f.From.IsZero() && f.From.After(floor) {
		floor = f.From
	}
	var out []string
	m := time.Date(top.Year(), top.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(floor.Year(), floor.Month(), 1, 0, 0, 0, 0, time.UTC)
	for ; !m.Before(end); m = m.AddDate(0, -1, 0) {
		out = append(out, prefix+monthOf(m))
	}
	return out
}

func positionTime(pos string) (time.Time, bool) {
	var sec int64
	if _, err := fmt.Sscanf(pos, "%011d#", &sec); err != nil {
		return time.Time{}, false
	}
	return time.Unix(sec, 0).UTC(), true
}

// seenStatus admits a process whose status as read at now is one of
// statuses, and which the sweep has ended if it expired: an open status
// whose expiry has not passed, any other status as stored. (An open
// process past its expiry is listed under EXPIRED once the sweep has
// ended it, within a minute; until then it is listed under no status.)
func seenStatus(statuses []identification.Status, now time.Time) expression.ConditionBuilder {
	at := expression.Value(now.Unix())
	var conds []expression.ConditionBuilder
	for _, st := range statuses {
		is := name(attrStatus).Equal(expression.Value(string(st)))
		if st.Open() {
			is = is.And(name(attrExpiresAt).GreaterThan(at))
		}
		conds = append(conds, is)
	}
	c := conds[0]
	for _, more := range conds[1:] {
		c = c.Or(more)
	}
	return c
}

func in(attr string, values []string) expression.ConditionBuilder {
	ops := make([]expression.OperandBuilder, len(values))
	for n, v := range values {
		ops[n] = expression.Value(v)
	}
	return name(attr).In(ops[0], ops[1:]...)
}

// bounds are the page's position bounds: below before (exclusive), at or
// below created_to, at or above created_from.
func bounds(f identification.ListFilter) (upper string, lower string) {
	upper = "~" // above every position
	if !f.To.IsZero() {
		upper = fmt.Sprintf("%011d$", f.To.Unix()) // '$' sorts after '#': all of that second
	}
	if f.Before != "" && f.Before < upper {
		upper = f.Before
	}
	if !f.From.IsZero() {
		lower = fmt.Sprintf("%011d#", f.From.Unix())
	}
	return upper, lower
}

// read reads src below the page's start, partition after partition, until
// it has Limit+1 items or none are left.
func (s *Store) read(ctx context.Context, src source, f identification.ListFilter) ([]item, error) {
	want := f.Limit + 1
	upper, lower := bounds(f)
	var out []item
	for _, v := range src.values {
		key := expression.Key(src.attr).Equal(expression.Value(v))
		if lower != "" {
			// BETWEEN is inclusive: the item at upper itself (the last
			// one of the previous page) is dropped below.
			key = key.And(expression.Key(attrPosition).Between(expression.Value(lower), expression.Value(upper)))
		} else {
			key = key.And(expression.Key(attrPosition).LessThan(expression.Value(upper)))
		}
		b := expression.NewBuilder().WithKeyCondition(key)
		if src.filter != nil {
			b = b.WithFilter(*src.filter)
		}
		expr, err := b.Build()
		if err != nil {
			return nil, fmt.Errorf("build list query: %w", err)
		}
		q := &dynamodb.QueryInput{
			TableName:                 s.table,
			IndexName:                 aws.String(src.index),
			KeyConditionExpression:    expr.KeyCondition(),
			FilterExpression:          expr.Filter(),
			ExpressionAttributeNames:  expr.Names(),
			ExpressionAttributeValues: expr.Values(),
			ScanIndexForward:          aws.Bool(false),
		}
		for {
			// One more than the page needs: the item at upper (the
			// previous page's last) may be among them.
			q.Limit = aws.Int32(int32(max(want-len(out)+1, src.atLeast)))
			page, err := s.client.Query(ctx, q)
			if err != nil {
				return nil, classify("query "+src.index, err)
			}
			for _, av := range page.Items {
				it, err := decodeItem(av)
				if err != nil {
					return nil, err
				}
				if it.ListPosition == upper || it.Kind != kindProcess {
					continue
				}
				out = append(out, it)
			}
			if len(out) >= want {
				return out[:want], nil
			}
			if len(page.LastEvaluatedKey) == 0 {
				break
			}
			q.ExclusiveStartKey = page.LastEvaluatedKey
		}
	}
	return out, nil
}
