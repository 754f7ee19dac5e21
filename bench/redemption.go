package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/perkflow/perkflow/api"
	"github.com/perkflow/perkflow/internal/stripemock"
)

// Redemption claim-to-completed: a member claims an offer (POST /v1/offers/{id}/claim) and the API answers when the
// redemption saga has settled (Prefer: wait=30), so the answer's latency is claim-to-completed. Points-only offers
// run the saga's hold, reserve, fulfil and commit; cash offers also charge a card through Stripe, here stripe-mock.

// findStripeMock is the stripe-mock binary: the given path, bin/stripe-mock (make test installs it there), or PATH.
func findStripeMock(path string) string {
	if path != "" {
		return path
	}
	if fi, err := os.Stat(filepath.Join("bin", "stripe-mock")); err == nil && !fi.IsDir() {
		abs, _ := filepath.Abs(filepath.Join("bin", "stripe-mock"))
		return abs
	}
	if p, err := exec.LookPath("stripe-mock"); err == nil {
		return p
	}
	return ""
}

// startStripeMock starts stripe-mock for cash claims, logging to dir/stripe-mock.log (open for the bench's life).
func startStripeMock(bin, dir string) (*stripemock.Process, error) {
	logf, err := os.Create(filepath.Join(dir, "stripe-mock.log"))
	if err != nil {
		return nil, err
	}
	p, err := stripemock.Start(bin, dir, logf, dieWithParent)
	if err != nil {
		logf.Close()
	}
	return p, err
}

// redemptionRun claims offers for members who have the points.
type redemptionRun struct {
	s       *stack
	members []string
	tokens  []string
	seq     atomic.Int64
}

// prepareRedemptions registers n members and gives each enough points for many claims (one purchase of 5,000 EUR).
func (s *stack) prepareRedemptions(ctx context.Context, n int) (*redemptionRun, error) {
	if len(s.jwt.Secret) == 0 {
		return nil, errors.New("the API's member-token secret is unknown (set PERKFLOW_JWT_SECRET for an external API)")
	}
	members, err := s.registerMembers(ctx, n, "r")
	if err != nil {
		return nil, err
	}
	r := &redemptionRun{s: s, members: members}
	hc := &http.Client{Timeout: 60 * time.Second}
	for i, m := range members {
		p := purchase(fmt.Sprintf("r%s-%d", s.runID, i), m, time.Now())
		p.Total.Amount, p.Items[0].UnitPrice.Amount = 500000, 500000
		if err := s.postAccrual(ctx, hc, p); err != nil {
			return nil, err
		}
		tok, err := api.MintMemberToken(s.jwt, m, 6*time.Hour, time.Now())
		if err != nil {
			return nil, err
		}
		r.tokens = append(r.tokens, tok)
	}
	// The points must be committed before anyone claims.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var have int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM transactions WHERE transaction_id LIKE $1`, "r"+s.runID+"-%").Scan(&have); err != nil {
			return nil, err
		}
		if have >= len(members) {
			return r, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("only %d of %d purchases for the redemption members committed", have, len(members))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// createOffer adds an offer with the marketer key and returns its id.
func (s *stack) createOffer(ctx context.Context, title string, points int64, cashCents int64) (string, error) {
	body := map[string]any{"title": title, "description": "perkflow bench", "points_cost": points}
	if cashCents > 0 {
		body["cash_price"] = map[string]any{"amount": cashCents, "currency": "EUR"}
	}
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.apiURL+"/v1/offers", bytes.NewReader(b))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.marketerKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer res.Body.Close()
	rb, _ := io.ReadAll(res.Body)
	var o struct {
		ID string `json:"offer_id"`
	}
	if res.StatusCode != http.StatusCreated || json.Unmarshal(rb, &o) != nil || o.ID == "" {
		return "", fmt.Errorf("create offer: %s %s", res.Status, firstLine(rb))
	}
	return o.ID, nil
}

// step claims offer at rate for dur, each claim by the next member, waiting for the saga to settle; a claim counts
// only when it answers 201 with status completed.
func (r *redemptionRun) step(ctx context.Context, name, offer string, cash bool, rate float64, dur time.Duration) Step {
	rec := newRecorder()
	url := r.s.apiURL + "/v1/offers/" + offer + "/claim"
	var body []byte
	if cash {
		body = []byte(`{"payment_method":"pm_card_visa"}`)
	}
	run := r.seq.Add(1)
	probe := r.s.cpuProbe()
	attackHTTP(ctx, rec, rate, dur, name, func(i uint64) httpTarget {
		k := int(i % uint64(len(r.members)))
		h := http.Header{}
		h.Set("Authorization", "Bearer "+r.tokens[k])
		h.Set("Prefer", "wait=30")
		h.Set("Idempotency-Key", fmt.Sprintf("bench-%s-%d-%d", r.s.runID, run, i))
		if body != nil {
			h.Set("Content-Type", "application/json")
		}
		return httpTarget{method: http.MethodPost, url: url, body: body, header: h}
	}, func(code int, b []byte) string {
		var v struct {
			Status string `json:"status"`
		}
		if code != http.StatusCreated || json.Unmarshal(b, &v) != nil || v.Status != "completed" {
			return strconv.Itoa(code) + " " + v.Status
		}
		return ""
	})
	st := rec.result(name, rate, dur, false)
	st.CPU = probe.stop(st.Completed)
	return st
}

// runRedemptions measures claim-to-completed for a points-only offer and, with stripe-mock, a cash offer.
func runRedemptions(ctx context.Context, s *stack, opts Options, rep *Report, progress func(string, ...any)) error {
	n := 20
	progress("redemption: registering %d members with 5,000 points each", n)
	r, err := s.prepareRedemptions(ctx, n)
	if err != nil {
		rep.Notes = append(rep.Notes, "redemption not measured: "+err.Error())
		progress("  not measured: %v", err)
		return nil
	}
	kinds := []struct {
		name   string
		points int64
		cash   int64
	}{{"redemption-points", 100, 0}}
	if s.stripe != nil {
		kinds = append(kinds, struct {
			name   string
			points int64
			cash   int64
		}{"redemption-cash", 50, 500})
	} else {
		rep.Notes = append(rep.Notes, "cash redemptions not measured: stripe-mock is not installed (make test installs it in bin/)")
	}
	for _, k := range kinds {
		offer, err := s.createOffer(ctx, "Bench "+k.name, k.points, k.cash)
		if err != nil {
			return err
		}
		progress("%s: claims at %.0f/s for %s, each answered when the saga settles", k.name, opts.RedeemRate, opts.Duration)
		r.step(ctx, k.name+"-warmup", offer, k.cash > 0, opts.RedeemRate, min(opts.Step, 2*time.Second))
		st := quiet(ctx, opts, progress, func() Step { return r.step(ctx, k.name, offer, k.cash > 0, opts.RedeemRate, opts.Duration) }, nil)
		progress("  %s", st)
		rep.Runs[k.name] = &st
	}
	return nil
}
