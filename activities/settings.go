package activities

import (
	"context"

	"github.com/perkflow/perkflow/domain"
)

// ApplySettingsChange records a change to the program settings or the earning rules, in force from now. Repeating
// it (a retry) records nothing new: a rule saved with the same definition keeps its version.
func (a *Activities) ApplySettingsChange(ctx context.Context, c domain.SettingsChange) (domain.SettingsResult, error) {
	now := a.Store.Now().UTC()
	var res domain.SettingsResult
	switch c.Kind {
	case domain.SettingsProgram:
		pv, err := a.Store.SaveProgramIfChanged(ctx, *c.Program, now, c.Actor)
		if err != nil {
			return res, classify(err)
		}
		res.Program = &pv
	case domain.SettingsRuleCreate, domain.SettingsRuleUpdate:
		r, err := a.Store.SaveRule(ctx, *c.Rule, c.Kind == domain.SettingsRuleCreate, now, c.Actor)
		if err != nil {
			return res, classify(err)
		}
		res.Rule = &r
	case domain.SettingsRuleDelete:
		if err := a.Store.DeleteRule(ctx, c.RuleID, now, c.Actor); err != nil && domain.CodeOf(err) != domain.ErrNotFound {
			return res, classify(err)
		}
	}
	return res, nil
}
