package bench

import "sync"

// alternator lets several searches take turns, one step each, in a fixed order; a search that is done drops out.
type alternator struct {
	mu     sync.Mutex
	cond   *sync.Cond
	order  []string
	active map[string]bool
	turn   int
}

func newAlternator(order []string) *alternator {
	a := &alternator{order: order, active: map[string]bool{}}
	a.cond = sync.NewCond(&a.mu)
	for _, n := range order {
		a.active[n] = true
	}
	return a
}

// do waits for name's turn, runs f and passes the turn on.
func (a *alternator) do(name string, f func()) {
	a.mu.Lock()
	for a.order[a.turn] != name {
		a.cond.Wait()
	}
	a.mu.Unlock()
	f()
	a.mu.Lock()
	a.advance()
	a.mu.Unlock()
}

// done takes name out of the rotation.
func (a *alternator) done(name string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.active[name] = false
	if a.order[a.turn] == name {
		a.advance()
	}
}

func (a *alternator) advance() {
	for k := 1; k <= len(a.order); k++ {
		if j := (a.turn + k) % len(a.order); a.active[a.order[j]] {
			a.turn = j
			break
		}
	}
	a.cond.Broadcast()
}
