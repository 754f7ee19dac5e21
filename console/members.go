package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/workflows"
)

// Support: find a member (by email, phone, external id — through GET /v1/members, posted so that nothing personal is
// in a URL — or by member id), and the member's page: profile, consent, balance, tier, lots, history with the running
// balance, redemptions (cancel within the window), challenges, links to the member's workflows in the Temporal UI,
// and a manual adjustment.

type memberJSON struct {
	MemberID   string     `json:"member_id"`
	ExternalID string     `json:"external_id"`
	Email      string     `json:"email"`
	Phone      string     `json:"phone"`
	Name       string     `json:"name"`
	Birthdate  string     `json:"birthdate"`
	Status     string     `json:"status"`
	JoinedAt   *time.Time `json:"joined_at"`
	Consent    struct {
		Email bool `json:"email"`
		SMS   bool `json:"sms"`
	} `json:"consent"`
	Balance *struct {
		Available  int64 `json:"available"`
		Pending    int64 `json:"pending"`
		Lifetime   int64 `json:"lifetime"`
		Qualifying int64 `json:"qualifying"`
	} `json:"balance"`
	Tier *struct {
		Code         string     `json:"code"`
		Name         string     `json:"name"`
		NextCode     string     `json:"next_code"`
		PointsToNext int64      `json:"points_to_next"`
		ReviewAt     *time.Time `json:"review_at"`
	} `json:"tier"`
}

func (c *Console) memberFind(q *request) {
	v := q.view("Find a member", "Members")
	v.Form = url.Values{"by": {"email"}}
	q.render("memberfind", v)
}

// memberFindPost looks the member up and opens their page when exactly one is found.
func (c *Console) memberFindPost(q *request) {
	f := q.form()
	by, value := f.str("by"), f.str("value")
	v := q.view("Find a member", "Members")
	v.Form = q.r.PostForm
	var id string
	switch by {
	case "member_id":
		var m memberJSON
		if _, err := q.call("GET", "/v1/members/"+url.PathEscape(value), nil, &m); err != nil {
			v.Errors["value"] = "no member has this id"
			q.renderStatus(http.StatusNotFound, "memberfind", v)
			return
		}
		id = m.MemberID
	case domain.LookupEmail, domain.LookupPhone, domain.LookupExternalID:
		var out struct {
			Items []memberJSON `json:"items"`
		}
		if _, err := q.call("GET", "/v1/members?"+url.Values{by: {value}}.Encode(), nil, &out); err != nil {
			e, ok := err.(*apiError)
			if !ok || e.Status >= 500 {
				q.fail(err)
				return
			}
			v.Errors["value"] = e.Detail
			q.renderStatus(http.StatusUnprocessableEntity, "memberfind", v)
			return
		}
		if len(out.Items) != 1 {
			v.Errors["value"] = "no member has exactly this " + map[string]string{"email": "email", "phone": "phone number", "external_id": "external id"}[by]
			q.renderStatus(http.StatusNotFound, "memberfind", v)
			return
		}
		id = out.Items[0].MemberID
	default:
		v.Errors["by"] = "choose what to search by"
		q.renderStatus(http.StatusUnprocessableEntity, "memberfind", v)
		return
	}
	q.redirect(Prefix+"/members/"+url.PathEscape(id), "")
}

type historyEntryJSON struct {
	ID           int64      `json:"id"`
	Kind         string     `json:"kind"`
	Points       int64      `json:"points"`
	BalanceAfter int64      `json:"balance_after"`
	AvailableAt  time.Time  `json:"available_at"`
	ExpiresAt    *time.Time `json:"expires_at"`
	SourceType   string     `json:"source_type"`
	SourceID     string     `json:"source_id"`
	OccurredAt   time.Time  `json:"occurred_at"`
	Actor        string     `json:"actor"`
	Reason       string     `json:"reason"`
}

type memberRedemptionJSON struct {
	RedemptionID  string    `json:"redemption_id"`
	OfferTitle    string    `json:"offer_title"`
	Status        string    `json:"status"`
	Points        int64     `json:"points"`
	Code          string    `json:"code"`
	FailureReason string    `json:"failure_reason"`
	CancelUntil   time.Time `json:"cancel_until"`
	CreatedAt     time.Time `json:"created_at"`
	Cancellable   bool      `json:"-"`
	Link          string    `json:"-"`
}

type enrolmentJSON struct {
	ChallengeID string     `json:"challenge_id"`
	Name        string     `json:"name"`
	Status      string     `json:"status"`
	Progress    int64      `json:"progress"`
	Target      int64      `json:"target"`
	Deadline    *time.Time `json:"deadline"`
	Link        string     `json:"-"`
}

type memberPageData struct {
	Member       memberJSON
	TierName     string
	Lots         []domain.Lot
	History      []historyEntryJSON
	MoreHistory  bool
	Redemptions  []memberRedemptionJSON
	Challenges   []enrolmentJSON
	Badges       []string
	Adjustment   string // the adjustment_id of the form: a double submit adjusts once
	MemberLink   string
	AllLink      string
	TemporalUI   bool
	CancelWindow time.Time
}

func (c *Console) memberPage(q *request) {
	c.renderMember(q, http.StatusOK, q.view("Member", "Members"))
}

func (c *Console) renderMember(q *request, status int, v view) {
	id := chi.URLParam(q.r, "memberId")
	base := "/v1/members/" + url.PathEscape(id)
	var d memberPageData
	if _, err := q.call("GET", base, nil, &d.Member); err != nil {
		q.fail(err)
		return
	}
	var hist struct {
		Items      []historyEntryJSON `json:"items"`
		NextCursor string             `json:"next_cursor"`
	}
	var reds struct {
		Items []memberRedemptionJSON `json:"items"`
	}
	var chs struct {
		Items  []enrolmentJSON `json:"items"`
		Badges []string        `json:"badges"`
	}
	for _, call := range []struct {
		path string
		out  any
	}{{base + "/history?limit=50", &hist}, {base + "/redemptions?limit=50", &reds}, {base + "/challenges?limit=50", &chs}} {
		if _, err := q.call("GET", call.path, nil, call.out); err != nil {
			q.fail(err)
			return
		}
	}
	lots, err := q.c.cfg.Store.OpenLots(q.r.Context(), d.Member.MemberID)
	if err != nil {
		q.fail(err)
		return
	}
	now := q.c.now()
	d.Lots, d.History, d.MoreHistory, d.Badges = lots, hist.Items, hist.NextCursor != "", chs.Badges
	d.TemporalUI = q.c.cfg.TemporalUIURL != ""
	d.MemberLink = q.c.workflowLink(workflows.MemberWorkflowID(d.Member.MemberID))
	d.AllLink = q.c.workflowsLink(`MemberId="` + d.Member.MemberID + `"`)
	for _, r := range reds.Items {
		st := domain.RedemptionStatus(r.Status)
		r.Cancellable = !st.Final() && now.Before(r.CancelUntil)
		r.Link = q.c.workflowLink(workflows.RedemptionWorkflowID(r.RedemptionID))
		d.Redemptions = append(d.Redemptions, r)
	}
	for _, e := range chs.Items {
		e.Link = q.c.workflowLink(workflows.ChallengeWorkflowID(e.ChallengeID, d.Member.MemberID))
		d.Challenges = append(d.Challenges, e)
	}
	d.Adjustment = uuid.NewString()
	if v.Form != nil && v.Form.Get("adjustment_id") != "" {
		d.Adjustment = v.Form.Get("adjustment_id")
	}
	v.Title = "Member " + d.Member.Name
	if d.Member.Name == "" {
		v.Title = "Member " + d.Member.MemberID
	}
	if v.Flash == "" {
		v.Flash = q.flash()
	}
	v.Data = d
	q.renderStatus(status, "member", v)
}

// workflowLink is the Temporal UI's page of the workflows with this id ("" without a Temporal UI).
func (c *Console) workflowLink(workflowID string) string {
	return c.workflowsLink(`WorkflowId="` + workflowID + `"`)
}

// workflowsLink is the Temporal UI's list of the workflows a visibility query selects.
func (c *Console) workflowsLink(query string) string {
	if c.cfg.TemporalUIURL == "" {
		return ""
	}
	return c.cfg.TemporalUIURL + "/namespaces/" + url.PathEscape(c.cfg.TemporalNamespace) + "/workflows?query=" + url.QueryEscape(query)
}

// memberAdjust credits or debits points by hand (POST /v1/members/{id}/adjustments), with the form's adjustment id
// so that submitting twice adjusts once.
func (c *Console) memberAdjust(q *request) {
	id := chi.URLParam(q.r, "memberId")
	f := q.form()
	v := q.view("Member", "Members")
	points := f.int("points")
	if points == nil && f.errors["points"] == "" {
		f.errors["points"] = "is required: a positive number credits, a negative one debits"
	}
	if f.failed() {
		v.Errors, v.Form, v.Error = f.errors, q.r.PostForm, "The adjustment was not made."
		c.renderMember(q, http.StatusUnprocessableEntity, v)
		return
	}
	body := map[string]any{"adjustment_id": f.str("adjustment_id"), "points": *points, "reason": f.str("reason")}
	if _, err := q.call("POST", "/v1/members/"+url.PathEscape(id)+"/adjustments", body, nil); err != nil {
		e, ok := err.(*apiError)
		if !ok || e.Status >= 500 {
			q.fail(err)
			return
		}
		v.Error, v.Form = "The adjustment was not made: "+e.Detail, q.r.PostForm
		for k, m := range e.Fields {
			v.Errors[k] = m
		}
		c.renderMember(q, http.StatusUnprocessableEntity, v)
		return
	}
	q.redirect(Prefix+"/members/"+url.PathEscape(id), "Adjusted by "+strconv.FormatInt(*points, 10)+" points.")
}

// memberCancelRedemption cancels a redemption within its window; the saga gives everything back.
func (c *Console) memberCancelRedemption(q *request) {
	id, rid := chi.URLParam(q.r, "memberId"), chi.URLParam(q.r, "redemptionId")
	accepted, err := q.call("POST", "/v1/redemptions/"+url.PathEscape(rid)+"/cancel", nil, nil)
	if err != nil {
		q.fail(err)
		return
	}
	msg := "Redemption cancelled: its points, stock and payment are given back."
	if accepted {
		msg = "Cancellation accepted: everything is given back within moments."
	}
	q.redirect(Prefix+"/members/"+url.PathEscape(id), msg)
}
