package console

import (
	"net/http"
	"net/url"
	"time"

	"github.com/google/uuid"

	"github.com/perkflow/perkflow/store"
)

// Challenges (list with enrolments and completions, create) and the leaderboard.

type challengeJSON struct {
	ChallengeID string `json:"challenge_id"`
	Name        string `json:"name"`
	Goal        struct {
		Kind   string `json:"kind"`
		Target int64  `json:"target"`
	} `json:"goal"`
	StartsAt     *time.Time `json:"starts_at"`
	EndsAt       *time.Time `json:"ends_at"`
	WindowDays   int        `json:"window_days"`
	RewardPoints int64      `json:"reward_points"`
	Badge        string     `json:"badge"`
	AutoEnroll   bool       `json:"auto_enroll"`
}

type challengesData struct {
	Challenges []challengeJSON
	Counts     map[string]store.EnrolmentCounts
	Token      string
}

func (c *Console) challengesList(q *request) {
	c.renderChallenges(q, http.StatusOK, q.view("Challenges", "Challenges"))
}

func (c *Console) renderChallenges(q *request, status int, v view) {
	var page struct {
		Items []challengeJSON `json:"items"`
	}
	if _, err := q.call("GET", "/v1/challenges?limit=200", nil, &page); err != nil {
		q.fail(err)
		return
	}
	counts, err := q.c.cfg.Store.ChallengeEnrolmentCounts(q.r.Context())
	if err != nil {
		q.fail(err)
		return
	}
	if v.Flash == "" {
		v.Flash = q.flash()
	}
	token := uuid.NewString()
	if v.Form != nil && v.Form.Get("token") != "" {
		token = v.Form.Get("token")
	}
	v.Data = challengesData{Challenges: page.Items, Counts: counts, Token: token}
	q.renderStatus(status, "challenges", v)
}

func (c *Console) challengeCreate(q *request) {
	f := q.form()
	body := map[string]any{"name": f.str("name"), "goal": map[string]any{"kind": f.str("goal.kind"), "target": f.intOr("goal.target", 0)},
		"reward_points": f.intOr("reward_points", 0), "auto_enroll": f.checked("auto_enroll")}
	for _, k := range []string{"starts_at", "ends_at"} {
		if t := f.time(k); t != nil {
			body[k] = t
		}
	}
	if n := f.int("window_days"); n != nil {
		body["window_days"] = *n
	}
	if b := f.str("badge"); b != "" {
		body["badge"] = b
	}
	v := q.view("Challenges", "Challenges")
	if f.failed() {
		v.Errors, v.Form, v.Error = f.errors, q.r.PostForm, "Some values could not be read."
		c.renderChallenges(q, http.StatusUnprocessableEntity, v)
		return
	}
	if _, err := q.call("POST", "/v1/challenges", body, nil, "Idempotency-Key", f.str("token")); err != nil {
		e, ok := err.(*apiError)
		if !ok || e.Status >= 500 {
			q.fail(err)
			return
		}
		v.Error, v.Form = e.Detail, q.r.PostForm
		for k, m := range e.Fields {
			v.Errors[k] = m
		}
		c.renderChallenges(q, http.StatusUnprocessableEntity, v)
		return
	}
	q.redirect(Prefix+"/challenges", "Challenge “"+f.str("name")+"” created.")
}

type leaderboardData struct {
	Period string
	Items  []struct {
		Rank        int    `json:"rank"`
		DisplayName string `json:"display_name"`
		Points      int64  `json:"points"`
	} `json:"items"`
}

func (c *Console) leaderboardPage(q *request) {
	period := q.r.URL.Query().Get("period")
	if period != "month" && period != "all" {
		period = "week"
	}
	d := leaderboardData{Period: period}
	if _, err := q.call("GET", "/v1/gamification/leaderboard?limit=50&period="+url.QueryEscape(period), nil, &d); err != nil {
		q.fail(err)
		return
	}
	d.Period = period
	v := q.view("Leaderboard", "Leaderboard")
	v.Data = d
	q.render("leaderboard", v)
}
