// Package archtest holds no code, only tests of the repository's shape: which perkflow package may import which
// (the table of docs/architecture.md), that no production package imports a test harness (internal/testkit, the
// testing package, the in-process Temporal server), that the production binary (-tags nodev) links neither the
// embedded Temporal server nor the bench, and that the package diagram of docs/architecture.md and the route table
// of docs/api.md are those of the code.
//
// After a change of imports, refresh the diagram with
//
//	go test ./internal/archtest -run TestArchitectureDocShowsTheImportGraph -update
package archtest
