package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// ProgramVersion is one version of the program settings and when it took effect.
type ProgramVersion = domain.ProgramVersion

// SaveProgram records a new version of the settings, in force from effectiveFrom.
func (s *Store) SaveProgram(ctx context.Context, p domain.Program, effectiveFrom time.Time, actor string) (ProgramVersion, error) {
	if err := p.Validate(); err != nil {
		return ProgramVersion{}, err
	}
	b, err := json.Marshal(p)
	if err != nil {
		return ProgramVersion{}, err
	}
	v := ProgramVersion{EffectiveFrom: effectiveFrom, Program: p}
	err = s.pool.QueryRow(ctx, `
		INSERT INTO program_settings (effective_from, settings, created_by) VALUES ($1, $2, $3)
		RETURNING version, effective_from`, effectiveFrom, b, actor).Scan(&v.Version, &v.EffectiveFrom)
	return v, wrap("save program", err)
}

// ProgramAt returns the settings in force at t: the latest version effective at or before t, or the first version
// when t predates them all. No settings at all → domain.ErrNotFound.
func (s *Store) ProgramAt(ctx context.Context, t time.Time) (ProgramVersion, error) {
	return programAt(ctx, s.pool, t)
}

func programAt(ctx context.Context, q querier, t time.Time) (ProgramVersion, error) {
	return programQuery(t).run(ctx, q)
}

func programQuery(t time.Time) rowQuery[ProgramVersion] {
	return rowQuery[ProgramVersion]{
		sql: `
		(SELECT version, effective_from, settings FROM program_settings
		 WHERE effective_from <= $1 ORDER BY effective_from DESC, version DESC LIMIT 1)
		UNION ALL
		(SELECT version, effective_from, settings FROM program_settings ORDER BY effective_from, version LIMIT 1)
		LIMIT 1`,
		args: []any{t},
		scan: func(row pgx.Row) (ProgramVersion, error) {
			var v ProgramVersion
			var raw []byte
			err := row.Scan(&v.Version, &v.EffectiveFrom, &raw)
			if errors.Is(err, pgx.ErrNoRows) {
				return v, domain.Errorf(domain.ErrNotFound, "no program settings: run perkflow migrate and configure the program")
			}
			if err != nil {
				return v, wrap("program settings", err)
			}
			if v.Program, err = decodedPrograms.decode(raw); err != nil {
				return v, wrap("decode program settings", err)
			}
			return v, nil
		},
	}
}

// SaveProgramIfChanged records a new version unless the latest version already holds these settings (a retried
// change), in which case it returns that version.
func (s *Store) SaveProgramIfChanged(ctx context.Context, p domain.Program, effectiveFrom time.Time, actor string) (ProgramVersion, error) {
	if err := p.Validate(); err != nil {
		return ProgramVersion{}, err
	}
	var latest ProgramVersion
	var raw []byte
	err := s.pool.QueryRow(ctx, `SELECT version, effective_from, settings FROM program_settings ORDER BY effective_from DESC, version DESC LIMIT 1`).
		Scan(&latest.Version, &latest.EffectiveFrom, &raw)
	if err == nil {
		if b, _ := json.Marshal(p); json.Unmarshal(raw, &latest.Program) == nil {
			if cur, _ := json.Marshal(latest.Program); string(cur) == string(b) {
				return latest, nil
			}
		}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return ProgramVersion{}, wrap("latest program", err)
	}
	return s.SaveProgram(ctx, p, effectiveFrom, actor)
}
