package stream_test

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/idadmin/api/shared/identification"
	"github.com/idadmin/api/shared/stream"
)

// mapDecoder is a decoder of its own layout: an image holds only "id", and
// names one of its items. The processor reads images through it alone.
type mapDecoder struct {
	items map[string]identification.StoredItem
	read  []string
}

func (d *mapDecoder) DecodeItem(av map[string]types.AttributeValue) (identification.StoredItem, error) {
	id := av["id"].(*types.AttributeValueMemberS).Value
	d.read = append(d.read, id)
	return d.items[id], nil
}

// bookkeeping is a store that has published nothing yet and records what
// is marked published.
type bookkeeping struct{ marked []int64 }

func (*bookkeeping) ClaimDelivery(context.Context, *identification.Identification, string, time.Time, bool) (identification.Delivery, bool, error) {
	return identification.Delivery{}, false, nil
}

func (*bookkeeping) FinishDelivery(context.Context, identification.Ref, string, identification.Delivery, time.Time) (*identification.Identification, error) {
	return nil, nil
}

func (b *bookkeeping) MarkPublished(_ context.Context, i *identification.Identification) (bool, error) {
	b.marked = append(b.marked, i.Version)
	return true, nil
}

func (*bookkeeping) Published(context.Context, identification.Ref) (int64, error) { return 0, nil }

// TestProcessorReadsImagesThroughItsDecoder: the processor knows no table
// layout; what a record means is what its Decoder says, and without one it
// handles no record.
func TestProcessorReadsImagesThroughItsDecoder(t *testing.T) {
	ref := identification.Ref{Org: "acme", Type: identification.TypeOTP, ID: "p1"}
	created := &identification.Identification{OrgID: "acme", ID: "p1", Type: identification.TypeOTP,
		Status: identification.StatusCreated, Version: 1, UpdatedAt: start}
	dec := &mapDecoder{items: map[string]identification.StoredItem{"p1": {Ref: ref, Process: created}}}
	store, log := &bookkeeping{}, &eventLog{}
	image := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: "p1"}}
	records := []stream.Record{{EventName: "INSERT", New: image}}

	p := &stream.Processor{Store: store, Decoder: dec, Publisher: log}
	if n, err := p.Process(t.Context(), records); n != 1 || err != nil {
		t.Fatalf("Process = %d, %v; want 1, nil", n, err)
	}
	if len(dec.read) != 1 || dec.read[0] != "p1" {
		t.Errorf("decoder read %v, want [p1]", dec.read)
	}
	if evs := log.of("p1"); len(evs) != 1 || evs[0].DetailType != "identification.created" {
		t.Errorf("published %+v, want identification.created", evs)
	}
	if len(store.marked) != 1 || store.marked[0] != 1 {
		t.Errorf("marked published %v, want [1]", store.marked)
	}

	p = &stream.Processor{Store: store, Publisher: log}
	if n, err := p.Process(t.Context(), records); n != 0 || err == nil || !strings.Contains(err.Error(), "no decoder") {
		t.Errorf("Process without a decoder = %d, %v; want 0 and a 'no decoder' error", n, err)
	}
}

// TestStreamImportsNoStore: the processor depends on its Decoder and Store
// ports, not on the DynamoDB store that implements them.
func TestStreamImportsNoStore(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/idadmin/api/shared/dynamostore" {
			t.Errorf("shared/stream depends on %s; it should reach the table through its Decoder and Store ports", pkg)
		}
	}
}
