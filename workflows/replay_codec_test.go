package workflows

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/perkflow/perkflow/privacy"
)

// TestReplayRecordedHistoriesThroughTheCodec replays every recorded history as a Temporal server holds it since
// perkflow encrypts its payloads: each payload of the recording (search attributes and headers apart, which the
// codec does not touch) encrypted under a payload key, replayed by a replayer with perkflow's data converter. The
// codec changes what the server stores, not what the workflows decide: the same histories replay, encrypted or not
// (TestReplayRecordedHistories replays them as recorded, in clear, as runs begun before the codec are kept).
func TestReplayRecordedHistoriesThroughTheCodec(t *testing.T) {
	keys, err := privacy.NewKeyring(privacy.Key{ID: "replay1", Secret: bytes.Repeat([]byte{5}, 32)})
	if err != nil {
		t.Fatal(err)
	}
	codec := privacy.NewCodec(keys)
	dc := privacy.DataConverter(keys)
	files, err := filepath.Glob("testdata/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recorded histories: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			h, err := client.HistoryFromJSON(r, client.HistoryJSONOptions{})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range h.Events {
				n += encryptPayloads(t, codec, e.ProtoReflect())
			}
			if n == 0 {
				t.Fatal("no payload encrypted")
			}
			rp, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{DataConverter: dc,
				FailureConverter: privacy.FailureConverter(dc)})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range Definitions() {
				rp.RegisterWorkflowWithOptions(d.Func, workflow.RegisterOptions{Name: d.Name})
			}
			logger := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := rp.ReplayWorkflowHistory(logger, h); err != nil {
				t.Fatalf("replaying %s encrypted: %v", f, err)
			}
		})
	}
}

// encryptPayloads encrypts in place every payload of m but those of search attributes and headers; it answers how
// many it encrypted.
func encryptPayloads(t *testing.T, codec *privacy.Codec, m protoreflect.Message) int {
	switch v := m.Interface().(type) {
	case *commonpb.SearchAttributes, *commonpb.Header:
		return 0
	case *commonpb.Payload:
		enc, err := codec.Encode([]*commonpb.Payload{v})
		if err != nil {
			t.Fatal(err)
		}
		v.Metadata, v.Data = enc[0].Metadata, enc[0].Data
		return 1
	}
	n := 0
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				n += encryptPayloads(t, codec, v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				n += encryptPayloads(t, codec, mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			n += encryptPayloads(t, codec, v.Message())
		}
		return true
	})
	return n
}
