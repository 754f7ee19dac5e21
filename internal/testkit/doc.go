// Package testkit holds what perkflow's tests run against and nothing the product runs: a fresh Postgres database
// per test package (pgtest), an in-process Temporal server with the worker and API wired to it (itest), a Stripe
// fake that answers as Stripe does (stripefake) and a local SendGrid/Twilio server for the real provider SDKs
// (providerfake); itself, SyncBuffer, a buffer goroutines write while a test reads it. Production packages never
// import it; `make lint` checks that.
package testkit
