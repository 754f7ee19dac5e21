package workflows

import (
	"time"

	"github.com/perkflow/perkflow/domain"
)

// Settings change contract: every change to the program settings or the earning rules is a short workflow, so that
// the API never writes business state itself and support finds each change, who made it and when, in the Temporal
// UI (settings/<kind>/<id>). The workflow's input is a domain.SettingsChange and its result a domain.SettingsResult.
const (
	// SettingsWorkflowName is the registered name of SettingsWorkflow.
	SettingsWorkflowName = "SettingsChange"
	// settingsChangeAttemptsTimeout bounds the attempts to apply a change: the API waits for the answer.
	settingsChangeAttemptsTimeout = 2 * time.Minute
)

// ApplySettingsChange applies one settings change (see activity.go).
var ApplySettingsChange = newActivity[domain.SettingsChange, domain.SettingsResult]("ApplySettingsChange")

// SettingsWorkflowID names one change.
func SettingsWorkflowID(kind, id string) string { return "settings/" + kind + "/" + id }
