package trust_test

import (
	"context"
	"testing"

	"github.com/mizanhq/mizan/internal/events"
	"github.com/mizanhq/mizan/internal/trust"
)

type recorder struct {
	topic string
	evs   []events.Event
}

func (r *recorder) Publish(_ context.Context, topic string, evs []events.Event) error {
	r.topic, r.evs = topic, evs
	return nil
}

func TestThePollersPublisherSignsEveryEventWithTheActiveKey(t *testing.T) {
	t.Parallel()
	newKey, oldKey := key(t, "new"), key(t, "old")
	rec := &recorder{}
	pub, err := trust.NewSigningPublisher(rec, events.Keyring{newKey, oldKey})
	if err != nil {
		t.Fatal(err)
	}
	var evs []events.Event
	for _, f := range []fact{statementItem(), watermark()} {
		ev, err := f.Event()
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, ev)
	}
	if err := pub.Publish(context.Background(), events.TopicStatement, evs); err != nil {
		t.Fatal(err)
	}
	if rec.topic != events.TopicStatement || len(rec.evs) != len(evs) {
		t.Fatalf("published %d events to %s", len(rec.evs), rec.topic)
	}
	for i, ev := range rec.evs {
		if ev.ID != evs[i].ID || ev.KeyID != "new" {
			t.Errorf("event %d: id %s, key %q; want %s signed with the active key", i, ev.ID, ev.KeyID, evs[i].ID)
		}
		if err := ev.Verify(events.Keyring{newKey}); err != nil {
			t.Errorf("event %d: %v", i, err)
		}
		if evs[i].Signature != "" {
			t.Errorf("the caller's event %d was changed", i)
		}
	}
	if _, err := trust.NewSigningPublisher(rec, nil); err == nil {
		t.Error("a signing publisher without a key")
	}
}
