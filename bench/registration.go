package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Registration through the API: POST /v1/members/register at a constant rate (open model), each a new member; an
// answer counts when it is 201 with the member (the member exists, durably). Its latency is the answer's, from when
// the request was due. Every member registered here is a real one (a key, a row, a balance, a workflow welcoming
// them), so the CPU per registration includes the workflow's first task.

// measureRegistration registers new members at Options.RegisterRate for Duration.
func (r *runner) measureRegistration(ctx context.Context) {
	rate := r.opts.RegisterRate
	r.progress("registration: new members at %.0f/s for %s, each answered 201 once registered", rate, r.opts.Duration)
	attempt := 0
	st := quiet(ctx, r.opts, r.progress, func() Step {
		attempt++
		return r.s.registrationStep(ctx, fmt.Sprintf("reg%d", attempt), rate, r.opts.Duration)
	}, nil)
	r.progress("  %s", st)
	r.rep.Runs["registration"] = &st
}

// registrationStep registers members at rate for dur, tagged so that no email repeats across steps.
func (s *stack) registrationStep(ctx context.Context, tag string, rate float64, dur time.Duration) Step {
	rec := newRecorder()
	url := s.apiURL + "/v1/members/register"
	probe := s.cpuProbe()
	attackHTTP(ctx, rec, rate, dur, "registration", func(i uint64) httpTarget {
		body, _ := json.Marshal(map[string]any{
			"email":   fmt.Sprintf("bench-%s-%s-%d@example.com", s.runID, tag, i),
			"name":    fmt.Sprintf("Bench Member %d", i),
			"consent": map[string]bool{"email": false, "sms": false},
		})
		return httpTarget{method: http.MethodPost, url: url, body: body,
			header: s.header("Idempotency-Key", fmt.Sprintf("bench-%s-%s-%d", s.runID, tag, i))}
	}, func(code int, b []byte) string {
		var m struct {
			MemberID string `json:"member_id"`
		}
		if code != http.StatusCreated || json.Unmarshal(b, &m) != nil || m.MemberID == "" {
			return strconv.Itoa(code)
		}
		return ""
	})
	st := rec.result("registration", rate, dur, false)
	st.CPU = probe.stop(st.Completed)
	return st
}
