package store

import (
	"encoding/json"
	"sync"

	"github.com/perkflow/perkflow/domain"
)

// decoded remembers what the JSON documents of one kind decoded to, keyed by their bytes. Program settings are read
// by every balance read and twice by every accrual, rule definitions by every accrual, and neither is rewritten in
// place (a change is a new version, a new row), so the same few documents are decoded over and over; decoding them
// once saves the API and the worker that work. Keying by the bytes rather than by a version makes the cache always
// right: a document that differs by a byte is decoded afresh, whatever version it carries.
//
// Each read gets its own copy (clone), so that a caller that changes what it was given changes nothing another sees.
type decoded[T any] struct {
	clone func(T) T
	mu    sync.RWMutex
	byRaw map[string]T
}

// decodedLimit bounds a cache: past it, the cache starts over (a program has a handful of versions and rules;
// reaching this means documents are changing far faster than they are read).
const decodedLimit = 1024

func newDecoded[T any](clone func(T) T) *decoded[T] {
	return &decoded[T]{clone: clone, byRaw: map[string]T{}}
}

// decode returns what raw decodes to, as json.Unmarshal into a zero T would.
func (d *decoded[T]) decode(raw []byte) (T, error) {
	d.mu.RLock()
	v, ok := d.byRaw[string(raw)]
	d.mu.RUnlock()
	if ok {
		return d.clone(v), nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		var zero T
		return zero, err
	}
	d.mu.Lock()
	if len(d.byRaw) >= decodedLimit {
		clear(d.byRaw)
	}
	d.byRaw[string(raw)] = d.clone(v)
	d.mu.Unlock()
	return v, nil
}

var (
	decodedPrograms = newDecoded(domain.Program.Clone)
	decodedRules    = newDecoded(domain.Rule.Clone)
)

// unmarshal is json.Unmarshal into a new T, for documents not worth remembering.
func unmarshal[T any](raw []byte) (T, error) {
	var v T
	err := json.Unmarshal(raw, &v)
	return v, err
}
