package itest

import (
	"context"
	"os"
	"path/filepath"
	"runtime"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"
)

// RecordHistories is set (PERKFLOW_RECORD_HISTORIES=1) to refresh the histories the workflows package replays.
var RecordHistories = os.Getenv("PERKFLOW_RECORD_HISTORIES") == "1"

// RecordHistory writes the history of a workflow run (runID "" = the latest) to workflows/testdata/name.json, for the
// replay tests that make a change breaking running workflows fail CI. It does nothing unless RecordHistories.
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
