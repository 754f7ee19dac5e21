// Package devenv is the embedded development stack behind `perkflow dev`:
//
//   - StartTemporal runs a Temporal server (go.temporal.io/server) in-process,
//     the way the Temporal CLI's `temporal server start-dev` does: all four
//     services, SQLite persistence in DataDir/temporal.db (workflows survive a
//     restart), the Temporal UI, a namespace and custom search attributes.
//   - EnsurePostgres finds a Postgres (DATABASE_URL, a server on localhost, or
//     a throwaway cluster under DataDir/postgres made with the machine's
//     initdb and pg_ctl).
//
// This package links the whole Temporal server and UI; production commands
// (`perkflow api`, `perkflow worker`) must not import it.
//
// Limits of the SQLite visibility store: at most 10 Keyword, 3 Int, 3 Double,
// 3 Bool, 3 Datetime, 3 Text and 3 KeywordList custom search attributes per
// namespace (pre-allocated columns).
package devenv
