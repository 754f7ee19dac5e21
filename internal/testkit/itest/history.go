package itest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/perkflow/perkflow/privacy"
)

// RecordHistories is set (PERKFLOW_RECORD_HISTORIES=1) to refresh the histories the workflows package replays.
var RecordHistories = os.Getenv("PERKFLOW_RECORD_HISTORIES") == "1"

// RecordHistory writes the history of a workflow run (runID "" = the latest) to workflows/testdata/name.json, for the
// replay tests that make a change breaking running workflows fail CI. The stack's payloads are encrypted: they are
// written decrypted, as the replay tests read them (they replay them in clear, and encrypted under a key of their
// own). It does nothing unless RecordHistories.
func (s *Stack) RecordHistory(workflowID, runID, name string) {
	s.T.Helper()
	if !RecordHistories {
		return
	}
	ctx := context.Background()
	it := s.Temporal.GetWorkflowHistory(ctx, workflowID, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		if err != nil {
			s.T.Fatal(err)
		}
		h.Events = append(h.Events, e)
	}
	// The stack's clients encrypt every payload: the recording keeps them in clear, as the replay tests expect (the
	// codec's replay test encrypts them itself).
	codec := privacy.NewCodec(PayloadKeys)
	for _, e := range h.Events {
		decodePayloads(s.T, codec, e.ProtoReflect())
	}
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(h)
	if err != nil {
		s.T.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "workflows", "testdata")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		s.T.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".json"), b, 0o644); err != nil {
		s.T.Fatal(err)
	}
}

// decodePayloads decodes in place every encrypted payload of m (those of search attributes and headers are never
// encrypted).
func decodePayloads(t testing.TB, codec *privacy.Codec, m protoreflect.Message) {
	if p, ok := m.Interface().(*commonpb.Payload); ok {
		dec, err := codec.Decode([]*commonpb.Payload{p})
		if err != nil {
			t.Fatal(err)
		}
		p.Metadata, p.Data = dec[0].Metadata, dec[0].Data
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				decodePayloads(t, codec, v.List().Get(i).Message())
			}
		case fd.IsMap() && fd.MapValue().Message() != nil:
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				decodePayloads(t, codec, mv.Message())
				return true
			})
		case !fd.IsList() && !fd.IsMap() && fd.Message() != nil:
			decodePayloads(t, codec, v.Message())
		}
		return true
	})
}

// DecodePayload decrypts a payload as the stack's clients encrypted it and decodes it into v.
func (s *Stack) DecodePayload(p *commonpb.Payload, v any) error {
	dec, err := privacy.NewCodec(PayloadKeys).Decode([]*commonpb.Payload{p})
	if err != nil {
		return err
	}
	return converter.GetDefaultDataConverter().FromPayload(dec[0], v)
}
