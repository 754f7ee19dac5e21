package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Campaigns: the builder (segment size live from POST /v1/campaigns/preview, a recurrence in words made into the
// cron expression), the list with pause, resume, extend and cancel, and the report with its chart.

type campaignsData struct {
	Campaigns []campaignJSON
}

func (c *Console) campaignsList(q *request) {
	var page campaignPageJSON
	if _, err := q.call("GET", "/v1/campaigns?limit=200", nil, &page); err != nil {
		q.fail(err)
		return
	}
	v := q.view("Campaigns", "Campaigns")
	v.Flash = q.flash()
	v.Data = campaignsData{Campaigns: page.Items}
	q.render("campaigns", v)
}

type campaignFormData struct {
	Program programJSON
	Token   string // the Idempotency-Key of this form's campaign: a double submit creates one campaign
	Size    *int64
	Cron    string
	Words   string
}

func (c *Console) campaignForm(q *request) {
	prog, err := q.program()
	if err != nil {
		q.fail(err)
		return
	}
	v := q.view("New campaign", "Campaigns")
	start := q.c.now().In(q.loc).Add(time.Hour).Truncate(time.Hour)
	v.Form = url.Values{"kind": {"multiplier"}, "starts_at": {localInput(q.loc, start)}, "ends_at": {localInput(q.loc, start.AddDate(0, 0, 2))},
		"rule.action.type": {"multiplier"}, "rule.action.percent": {"200"}, "announcement.channel": {"email"}}
	v.Data = campaignFormData{Program: prog, Token: uuid.NewString()}
	q.render("campaign", v)
}

// segmentOf reads the segment of the builder.
func (f *form) segmentOf() map[string]any {
	s := map[string]any{}
	if t := f.all("segment.tiers"); len(t) > 0 {
		s["tiers"] = t
	}
	if t := f.time("segment.joined_after"); t != nil {
		s["joined_after"] = t
	}
	if t := f.time("segment.joined_before"); t != nil {
		s["joined_before"] = t
	}
	if n := f.int("segment.inactive_days"); n != nil {
		s["inactive_days"] = *n
	}
	if n := f.int("segment.min_lifetime_points"); n != nil {
		s["min_lifetime_points"] = *n
	}
	if c := f.str("segment.consent"); c != "" {
		s["consent"] = c
	}
	return s
}

// campaignPreview shows the size of the segment and the recurrence as the builder's fields stand (an htmx partial).
func (c *Console) campaignPreview(q *request) {
	f := q.form()
	v := q.view("Campaign", "Campaigns")
	d := campaignFormData{}
	seg := f.segmentOf()
	if f.failed() {
		v.Errors = f.errors
	} else {
		var out struct {
			SegmentSize int64 `json:"segment_size"`
		}
		if _, err := q.call("POST", "/v1/campaigns/preview", map[string]any{"segment": seg}, &out); err != nil {
			if e, ok := err.(*apiError); ok && e.Status < 500 {
				v.Error = e.Detail
				v.Errors = e.Fields
			} else {
				q.fail(err)
				return
			}
		} else {
			d.Size = &out.SegmentSize
		}
	}
	start := f.time("starts_at")
	var st time.Time
	if start != nil {
		st = *start
	}
	var field, problem string
	d.Cron, d.Words, field, problem = f.recurrence().cron(q.loc, st)
	if problem != "" {
		v.Errors[field] = problem
	}
	v.Data = d
	q.partial("campaign", "preview", v)
}

// campaignCreate builds the API's body from the builder and creates the campaign (POST /v1/campaigns) under the
// form's Idempotency-Key.
func (c *Console) campaignCreate(q *request) {
	f := q.form()
	prog, err := q.program()
	if err != nil {
		q.fail(err)
		return
	}
	v := q.view("New campaign", "Campaigns")
	d := campaignFormData{Program: prog, Token: f.str("token")}
	v.Data = d
	body := map[string]any{"name": f.str("name"), "kind": f.str("kind"), "segment": f.segmentOf()}
	starts, ends := f.time("starts_at"), f.time("ends_at")
	if starts != nil {
		body["starts_at"] = starts
	}
	if ends != nil {
		body["ends_at"] = ends
	}
	var st time.Time
	if starts != nil {
		st = *starts
	}
	if cron, _, field, problem := f.recurrence().cron(q.loc, st); problem != "" {
		f.errors[field] = problem
	} else if cron != "" {
		body["schedule"] = cron
		// Each run's length in days and hours, and the end of the series: without a length, ends_at still gives the
		// first run's window (the API's form from before run_length).
		if rl := f.runLength(); rl != "" {
			body["run_length"] = rl
			delete(body, "ends_at")
		}
		if until := f.time("until"); until != nil {
			body["until"] = until
		}
	}
	if n := f.int("budget_points"); n != nil {
		body["budget_points"] = *n
	}
	switch f.str("kind") {
	case "multiplier":
		body["rule"] = map[string]any{"conditions": f.conditionsOf("rule.conditions.", prog.Currency), "action": f.actionOf("rule.action.")}
	case "bonus":
		body["bonus_points"] = f.intOr("bonus_points", 0)
	}
	if ch := f.str("announcement.channel"); ch != "" && (f.str("announcement.template") != "" || f.str("kind") == "announcement") {
		body["announcement"] = map[string]any{"channel": ch, "template": f.str("announcement.template")}
	}
	if f.failed() {
		v.Errors, v.Form, v.Error = f.errors, q.r.PostForm, "Some values could not be read."
		q.renderStatus(http.StatusUnprocessableEntity, "campaign", v)
		return
	}
	var created campaignJSON
	accepted, err := q.call("POST", "/v1/campaigns", body, &created, "Idempotency-Key", d.Token)
	if err != nil {
		q.formFailed(err, "campaign", v)
		return
	}
	if accepted {
		q.redirect(Prefix+"/campaigns", "Campaign “"+f.str("name")+"” accepted: it appears here within moments.")
		return
	}
	q.redirect(Prefix+"/campaigns/"+url.PathEscape(created.CampaignID), "Campaign “"+created.Name+"” scheduled.")
}

// runLength is the builder's run length in days and hours as the ISO 8601 duration the API takes ("" when neither
// is given).
func (f *form) runLength() string {
	days, hours := f.int("run_length.days"), f.int("run_length.hours")
	if days == nil && hours == nil {
		return ""
	}
	s := "P"
	if days != nil {
		s += strconv.FormatInt(*days, 10) + "D"
	}
	if hours != nil {
		s += "T" + strconv.FormatInt(*hours, 10) + "H"
	}
	return s
}

type campaignReportJSON struct {
	PointsIssued      int64  `json:"points_issued"`
	PointsCut         int64  `json:"points_cut"`
	PointsReturned    int64  `json:"points_returned"`
	Participants      int64  `json:"participants"`
	Purchases         int64  `json:"purchases"`
	Redemptions       int64  `json:"redemptions"`
	BudgetPoints      *int64 `json:"budget_points"`
	BudgetUsedPercent *int64 `json:"budget_used_percent"`
	BudgetExhausted   bool   `json:"budget_exhausted"`
	SegmentSize       int64  `json:"segment_size"`
	Announced         int64  `json:"announced"`
}

type campaignReportData struct {
	Campaign campaignJSON
	Report   campaignReportJSON
	Chart    any
}

func (c *Console) campaignReport(q *request) {
	id := url.PathEscape(chi.URLParam(q.r, "campaignId"))
	var d campaignReportData
	if _, err := q.call("GET", "/v1/campaigns/"+id, nil, &d.Campaign); err != nil {
		q.fail(err)
		return
	}
	if _, err := q.call("GET", "/v1/campaigns/"+id+"/report", nil, &d.Report); err != nil {
		q.fail(err)
		return
	}
	rep := d.Report
	bars := []bar{{Label: "Points issued", Value: rep.PointsIssued, Of: deref(rep.BudgetPoints)}, {Label: "Cut by the budget", Value: rep.PointsCut, Colour: "#b0582f"},
		{Label: "Given back by returns", Value: rep.PointsReturned, Colour: "#3c6e8a"},
		{Label: "Members who earned", Value: rep.Participants, Colour: "#3c8a5a"}, {Label: "Purchases", Value: rep.Purchases, Colour: "#7a4fb0"},
		{Label: "Redemptions since start", Value: rep.Redemptions, Colour: "#5f6b76"}, {Label: "Segment", Value: rep.SegmentSize, Colour: "#8a7a3c"}}
	d.Chart = barChart("Campaign "+d.Campaign.Name, bars)
	v := q.view("Campaign "+d.Campaign.Name, "Campaigns")
	v.Flash = q.flash()
	v.Data = d
	q.render("campaignreport", v)
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// campaignAction pauses, resumes, cancels or extends a campaign (the API signals its workflow).
func (c *Console) campaignAction(q *request) {
	id := chi.URLParam(q.r, "campaignId")
	action := chi.URLParam(q.r, "action")
	var body any
	switch action {
	case "pause", "resume", "cancel":
	case "extend":
		f := q.form()
		ends := f.time("ends_at")
		if ends == nil {
			v := q.view("Cannot extend", "Campaigns")
			v.Error = "Give the new end date and time."
			q.renderStatus(http.StatusUnprocessableEntity, "error", v)
			return
		}
		body = map[string]any{"ends_at": ends}
	default:
		q.c.renderPage(q.w, q.r, http.StatusNotFound, "error", view{Title: "Not found", Error: "There is no such action."})
		return
	}
	accepted, err := q.call("POST", "/v1/campaigns/"+url.PathEscape(id)+"/"+action, body, nil)
	if err != nil {
		q.fail(err)
		return
	}
	msg := map[string]string{"pause": "Campaign paused.", "resume": "Campaign resumed.", "cancel": "Campaign cancelled.", "extend": "Campaign extended."}[action]
	if accepted {
		msg = "Done: the campaign applies it within moments."
	}
	q.redirect(Prefix+"/campaigns/"+url.PathEscape(id), msg)
}
