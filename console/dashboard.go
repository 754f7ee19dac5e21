package console

import (
	"html/template"
	"time"

	"github.com/perkflow/perkflow/domain"
)

// The dashboard: points per day over the last 30 days, the liability, redemptions by status and the active
// campaigns with their budget used — each panel from the API as the signed-in role may read it.

type moneyJSON struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

type liabilityJSON struct {
	AsOf              time.Time `json:"as_of"`
	MembersWithPoints int64     `json:"members_with_points"`
	Points            struct {
		Outstanding    int64 `json:"outstanding"`
		Balance        int64 `json:"balance"`
		Available      int64 `json:"available"`
		Pending        int64 `json:"pending"`
		AwaitingExpiry int64 `json:"awaiting_expiry"`
		Held           int64 `json:"held"`
		Expiring       struct {
			Within30Days int64 `json:"within_30_days"`
			Within60Days int64 `json:"within_60_days"`
			Within90Days int64 `json:"within_90_days"`
		} `json:"expiring"`
	} `json:"points"`
	Value *struct {
		Outstanding moneyJSON `json:"outstanding"`
		Available   moneyJSON `json:"available"`
		Pending     moneyJSON `json:"pending"`
		Held        moneyJSON `json:"held"`
	} `json:"value"`
}

type pointsReportJSON struct {
	Items []struct {
		Start  time.Time `json:"start"`
		Issued struct {
			Total int64 `json:"total"`
		} `json:"issued"`
		Returned int64 `json:"returned"`
		Redeemed int64 `json:"redeemed"`
		Released int64 `json:"released"`
		Expired  int64 `json:"expired"`
	} `json:"items"`
}

type campaignJSON struct {
	CampaignID      string     `json:"campaign_id"`
	Name            string     `json:"name"`
	Kind            string     `json:"kind"`
	Status          string     `json:"status"`
	StartsAt        time.Time  `json:"starts_at"`
	EndsAt          time.Time  `json:"ends_at"`
	Schedule        string     `json:"schedule"`
	Until           *time.Time `json:"until"`
	RunLength       string     `json:"run_length"`
	BudgetPoints    *int64     `json:"budget_points"`
	IssuedPoints    int64      `json:"issued_points"`
	BudgetExhausted bool       `json:"budget_exhausted"`
	SegmentSize     int64      `json:"segment_size"`
	Announced       int64      `json:"announced"`
	CreatedBy       string     `json:"created_by"`
	CreatedAt       *time.Time `json:"created_at"`
}

type campaignPageJSON struct {
	Items      []campaignJSON `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

type dashboardData struct {
	Chart       template.HTML
	Liability   *liabilityJSON
	Redemptions template.HTML
	Campaigns   []campaignJSON
	Budgets     template.HTML
}

func (c *Console) dashboard(q *request) {
	v := q.view("Dashboard", "Dashboard")
	v.Flash = q.flash()
	var d dashboardData
	role := q.sess.Key.Role
	if contains(marketers, role) {
		to := q.c.now()
		from := to.In(q.loc).AddDate(0, 0, -29)
		from = time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, q.loc)
		var rep pointsReportJSON
		if _, err := q.call("GET", "/v1/reports/points?interval=day&from="+urlQueryEscape(from.Format(time.RFC3339))+
			"&to="+urlQueryEscape(to.Format(time.RFC3339)), nil, &rep); err != nil {
			q.fail(err)
			return
		}
		labels := make([]string, len(rep.Items))
		issued, redeemed, returned, expired := make([]int64, len(rep.Items)), make([]int64, len(rep.Items)), make([]int64, len(rep.Items)), make([]int64, len(rep.Items))
		for i, it := range rep.Items {
			labels[i] = it.Start.In(q.loc).Format("2 Jan")
			issued[i], redeemed[i], returned[i], expired[i] = it.Issued.Total, it.Redeemed-it.Released, it.Returned, it.Expired
		}
		d.Chart = lineChart("Points per day, last 30 days", labels, []series{
			{"Issued", "#2f6fb0", issued}, {"Redeemed", "#b0582f", redeemed}, {"Returned", "#7a4fb0", returned}, {"Expired", "#5f6b76", expired},
		})
		var camps campaignPageJSON
		if _, err := q.call("GET", "/v1/campaigns?limit=200", nil, &camps); err != nil {
			q.fail(err)
			return
		}
		var bars []bar
		for _, cp := range camps.Items {
			if cp.Status == domain.CampaignActive || cp.Status == domain.CampaignPaused {
				d.Campaigns = append(d.Campaigns, cp)
				if cp.BudgetPoints != nil {
					bars = append(bars, bar{Label: cp.Name, Value: cp.IssuedPoints, Of: *cp.BudgetPoints})
				}
			}
		}
		if len(bars) > 0 {
			d.Budgets = barChart("Budget used by active campaigns", bars)
		}
	}
	var l liabilityJSON
	if _, err := q.call("GET", "/v1/reports/liability", nil, &l); err != nil {
		q.fail(err)
		return
	}
	d.Liability = &l
	counts, err := q.c.cfg.Store.RedemptionsByStatus(q.r.Context())
	if err != nil {
		q.fail(err)
		return
	}
	statuses := []domain.RedemptionStatus{domain.RedemptionPending, domain.RedemptionReserved, domain.RedemptionAwaitingPayment,
		domain.RedemptionCharged, domain.RedemptionFulfilled, domain.RedemptionCompleted, domain.RedemptionFailed, domain.RedemptionCancelled}
	var bars []bar
	for _, st := range statuses {
		bars = append(bars, bar{Label: string(st), Value: counts[st]})
	}
	d.Redemptions = barChart("Redemptions by status", bars)
	v.Data = d
	q.render("dashboard", v)
}
