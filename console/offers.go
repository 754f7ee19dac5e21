package console

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"
)

// Offers: the catalog by status, a new offer, an edit (dates, tiers, cost, stock added or removed) and archiving —
// through GET, POST /v1/offers and GET, PATCH, DELETE /v1/offers/{id}.

type offerJSON struct {
	OfferID             string     `json:"offer_id"`
	Title               string     `json:"title"`
	Description         string     `json:"description"`
	PointsCost          int64      `json:"points_cost"`
	CashPrice           *moneyJSON `json:"cash_price"`
	Stock               *int64     `json:"stock"`
	StockRemaining      *int64     `json:"stock_remaining"`
	StartsAt            *time.Time `json:"starts_at"`
	EndsAt              *time.Time `json:"ends_at"`
	EligibleTiers       []string   `json:"eligible_tiers"`
	MinTier             string     `json:"min_tier"`
	CancelWindowMinutes int64      `json:"cancel_window_minutes"`
	Status              string     `json:"status"`
	ArchivedAt          *time.Time `json:"archived_at"`
}

type offersData struct {
	Offers   []offerJSON
	Status   string
	Statuses []string
}

func (c *Console) offersList(q *request) {
	status := q.r.URL.Query().Get("status")
	path := "/v1/offers?limit=200"
	if status != "" {
		path += "&status=" + url.QueryEscape(status)
	}
	var page struct {
		Items []offerJSON `json:"items"`
	}
	if _, err := q.call("GET", path, nil, &page); err != nil {
		q.fail(err)
		return
	}
	v := q.view("Offers", "Offers")
	v.Flash = q.flash()
	v.Data = offersData{Offers: page.Items, Status: status, Statuses: []string{"active", "scheduled", "ended", "archived"}}
	q.render("offers", v)
}

type offerFormData struct {
	Offer   offerJSON
	New     bool
	Program programJSON
	Token   string
}

func (c *Console) offerForm(q *request) {
	id := chi.URLParam(q.r, "offerId")
	d := offerFormData{New: id == "", Token: uuid.NewString(), Offer: offerJSON{CancelWindowMinutes: 30}}
	if id != "" {
		if _, err := q.call("GET", "/v1/offers/"+url.PathEscape(id), nil, &d.Offer); err != nil {
			q.fail(err)
			return
		}
	}
	var err error
	if d.Program, err = q.program(); err != nil {
		q.fail(err)
		return
	}
	o := d.Offer
	title := "New offer"
	if !d.New {
		title = "Offer " + o.Title
	}
	v := q.view(title, "Offers")
	v.Flash = q.flash()
	v.Form = url.Values{"title": {o.Title}, "description": {o.Description}, "points_cost": {strconv.FormatInt(o.PointsCost, 10)},
		"starts_at": {localInput(q.loc, o.StartsAt)}, "ends_at": {localInput(q.loc, o.EndsAt)}, "eligible_tiers": o.EligibleTiers,
		"min_tier": {o.MinTier}, "cancel_window_minutes": {strconv.FormatInt(o.CancelWindowMinutes, 10)}}
	if o.CashPrice != nil {
		v.Form.Set("cash_price", strconv.FormatFloat(float64(o.CashPrice.Amount)/100, 'f', 2, 64))
	}
	if d.New {
		v.Form.Set("points_cost", "")
	}
	v.Data = d
	q.render("offer", v)
}

// offerSave creates an offer, or changes one: the fields of the form, and the stock added or removed.
func (c *Console) offerSave(q *request) {
	id := chi.URLParam(q.r, "offerId")
	f := q.form()
	prog, err := q.program()
	if err != nil {
		q.fail(err)
		return
	}
	d := offerFormData{New: id == "", Program: prog, Token: f.str("token"), Offer: offerJSON{OfferID: id, Title: f.str("title")}}
	v := q.view("Offer", "Offers")
	v.Data = d
	body := map[string]any{"title": f.str("title"), "description": f.str("description"), "eligible_tiers": append([]string{}, f.all("eligible_tiers")...),
		"min_tier": f.str("min_tier")} // "" clears it
	if n := f.int("points_cost"); n != nil {
		body["points_cost"] = *n
	} else if d.New {
		body["points_cost"] = 0
	}
	if n := f.int("cancel_window_minutes"); n != nil {
		body["cancel_window_minutes"] = *n
	}
	if m := f.minor("cash_price"); m != nil {
		body["cash_price"] = map[string]any{"amount": *m, "currency": prog.Currency}
	} else if !d.New {
		body["cash_price"] = nil
	}
	for _, k := range []string{"starts_at", "ends_at"} {
		if t := f.time(k); t != nil {
			body[k] = t
		} else if !d.New {
			body[k] = nil
		}
	}
	if d.New {
		if n := f.int("stock"); n != nil {
			body["stock"] = *n
		}
	} else if n := f.int("add_stock"); n != nil && *n != 0 {
		body["add_stock"] = *n
	}
	if f.failed() {
		v.Errors, v.Form, v.Error = f.errors, q.r.PostForm, "Some values could not be read."
		q.renderStatus(http.StatusUnprocessableEntity, "offer", v)
		return
	}
	var saved offerJSON
	if d.New {
		_, err = q.call("POST", "/v1/offers", body, &saved, "Idempotency-Key", d.Token)
	} else {
		_, err = q.call("PATCH", "/v1/offers/"+url.PathEscape(id), body, &saved)
	}
	if err != nil {
		q.formFailed(err, "offer", v)
		return
	}
	q.redirect(Prefix+"/offers/"+url.PathEscape(saved.OfferID), "Offer “"+saved.Title+"” saved.")
}

func (c *Console) offerArchive(q *request) {
	id := chi.URLParam(q.r, "offerId")
	if _, err := q.call("DELETE", "/v1/offers/"+url.PathEscape(id), nil, nil); err != nil {
		q.fail(err)
		return
	}
	q.redirect(Prefix+"/offers", "Offer archived: no new claims; claims already made go on.")
}
