package console

import (
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// Earning rules: the list, the editor with a live simulation of the draft over the last 30 days, saving and
// deleting — through GET, POST, PUT and DELETE /v1/rules and POST /v1/rules/simulate.

type rulePageJSON struct {
	Items []ruleJSON `json:"items"`
}

type rulesData struct {
	Rules []ruleJSON
}

func (c *Console) rulesList(q *request) {
	var page rulePageJSON
	if _, err := q.call("GET", "/v1/rules?limit=200", nil, &page); err != nil {
		q.fail(err)
		return
	}
	sort.SliceStable(page.Items, func(i, j int) bool { return page.Items[i].Priority > page.Items[j].Priority })
	v := q.view("Earning rules", "Rules")
	v.Flash = q.flash()
	v.Data = rulesData{Rules: page.Items}
	q.render("rules", v)
}

type ruleFormData struct {
	Rule    ruleJSON
	New     bool
	Program programJSON
	Days    [][2]string
}

var weekdays = [][2]string{{"1", "Mon"}, {"2", "Tue"}, {"3", "Wed"}, {"4", "Thu"}, {"5", "Fri"}, {"6", "Sat"}, {"7", "Sun"}}

// ruleForm shows the editor: empty for a new rule, else the rule in force.
func (c *Console) ruleForm(q *request) {
	id := chi.URLParam(q.r, "ruleId")
	d := ruleFormData{New: id == "", Days: weekdays, Rule: ruleJSON{Mode: "stackable", Action: map[string]any{"type": "multiplier", "percent": float64(200)}}}
	if id != "" {
		if _, err := q.call("GET", "/v1/rules/"+url.PathEscape(id), nil, &d.Rule); err != nil {
			q.fail(err)
			return
		}
	}
	var err error
	if d.Program, err = q.program(); err != nil {
		q.fail(err)
		return
	}
	title := "New earning rule"
	if !d.New {
		title = "Edit " + d.Rule.Name
	}
	v := q.view(title, "Rules")
	v.Form = ruleFormValues(d.Rule, "", q.loc)
	v.Data = d
	q.render("rule", v)
}

// ruleSave creates (POST /v1/rules) or changes (PUT /v1/rules/{id}) a rule; the API's field errors go beside the
// fields.
func (c *Console) ruleSave(q *request) {
	id := chi.URLParam(q.r, "ruleId")
	f := q.form()
	prog, err := q.program()
	if err != nil {
		q.fail(err)
		return
	}
	rule := f.ruleOf(prog.Currency)
	v := q.view("Earning rule", "Rules")
	d := ruleFormData{New: id == "", Rule: ruleJSON{RuleID: id, Name: rule.Name}, Program: prog, Days: weekdays}
	v.Data = d
	if f.failed() {
		v.Errors, v.Form, v.Error = f.errors, q.r.PostForm, "Some values could not be read."
		q.renderStatus(http.StatusUnprocessableEntity, "rule", v)
		return
	}
	method, path := "POST", "/v1/rules"
	if id != "" {
		method, path = "PUT", "/v1/rules/"+url.PathEscape(id)
	}
	accepted, err := q.call(method, path, rule.request(), nil)
	if err != nil {
		q.formFailed(err, "rule", v)
		return
	}
	msg := "Rule “" + rule.Name + "” saved: it applies to purchases from now on."
	if accepted {
		msg = "Rule “" + rule.Name + "” accepted: it applies within moments."
	}
	q.redirect(Prefix+"/rules", msg)
}

func (c *Console) ruleDelete(q *request) {
	id := chi.URLParam(q.r, "ruleId")
	if _, err := q.call("DELETE", "/v1/rules/"+url.PathEscape(id), nil, nil); err != nil {
		q.fail(err)
		return
	}
	q.redirect(Prefix+"/rules", "Rule deleted: purchases from now on no longer earn by it.")
}

type simulationJSON struct {
	From            time.Time `json:"from"`
	To              time.Time `json:"to"`
	Transactions    int       `json:"transactions"`
	Truncated       bool      `json:"truncated"`
	ActualPoints    int64     `json:"actual_points"`
	SimulatedPoints int64     `json:"simulated_points"`
	Difference      int64     `json:"difference"`
	MembersEarning  int       `json:"members_earning"`
	MembersAffected int       `json:"members_affected"`
	Changed         int       `json:"transactions_changed"`
	PerRule         []struct {
		RuleID string `json:"rule_id"`
		Name   string `json:"name"`
		Points int64  `json:"points"`
	} `json:"per_rule"`
}

type simulationData struct {
	Result *simulationJSON
	Draft  int64
}

var draftField = regexp.MustCompile(`^rules\[(\d+)\]\.?`)

// ruleSimulate replays the rules in force with the draft in place of the rule edited (or added) over the last 30
// days (POST /v1/rules/simulate) and shows what it would have issued next to what was issued: an htmx partial.
func (c *Console) ruleSimulate(q *request) {
	f := q.form()
	prog, err := q.program()
	if err != nil {
		q.fail(err)
		return
	}
	draft := f.ruleOf(prog.Currency)
	if draft.Name == "" {
		draft.Name = "Draft" // the simulation does not wait for a name
	}
	v := q.view("Simulation", "Rules")
	if f.failed() {
		v.Errors = f.errors
		v.Error = "Some values could not be read: the simulation waits for them."
		q.partial("rule", "simulation", v)
		return
	}
	var page rulePageJSON
	if _, err := q.call("GET", "/v1/rules?limit=200", nil, &page); err != nil {
		q.fail(err)
		return
	}
	editing := f.str("rule_id")
	rules := []ruleJSON{}
	for _, r := range page.Items {
		if r.RuleID != editing {
			rules = append(rules, r.request())
		}
	}
	rules = append(rules, draft.request())
	draftIndex := len(rules) - 1
	to := q.c.now().UTC().Truncate(time.Second)
	body := map[string]any{"rules": rules, "from": to.AddDate(0, 0, -30), "to": to}
	var sim simulationJSON
	if _, err := q.call("POST", "/v1/rules/simulate", body, &sim); err != nil {
		e, ok := err.(*apiError)
		if !ok || e.Status >= 500 {
			q.fail(err)
			return
		}
		v.Error = e.Detail
		for k, m := range e.Fields {
			// The draft's own fields (rules[N].action.percent), named as the form names them.
			if mm := draftField.FindStringSubmatch(k); mm != nil && mm[1] == strconv.Itoa(draftIndex) && strings.HasSuffix(mm[0], ".") {
				v.Errors[strings.TrimPrefix(k, mm[0])] = m
			}
		}
		v.Errors = leafErrors(v.Errors)
		q.partial("rule", "simulation", v)
		return
	}
	d := simulationData{Result: &sim}
	for _, pr := range sim.PerRule {
		if pr.RuleID == "draft-"+strconv.Itoa(draftIndex+1) {
			d.Draft = pr.Points
		}
	}
	v.Data = d
	q.partial("rule", "simulation", v)
}

// leafErrors keeps the errors of the most precise fields (action.percent, not also action).
func leafErrors(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, msg := range m {
		leaf := true
		for other := range m {
			if other != k && (strings.HasPrefix(other, k+".") || strings.HasPrefix(other, k+"[")) {
				leaf = false
			}
		}
		if leaf {
			out[k] = msg
		}
	}
	return out
}
