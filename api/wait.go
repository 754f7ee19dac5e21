package api

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxWait caps the wait a client may ask for with Prefer: wait=N.
const maxWait = 60 * time.Second

// waitBudget is how long this request may wait for asynchronous work: the server's budget, or the client's
// `Prefer: wait=N` (RFC 7240, seconds), capped at maxWait.
func (s *Server) waitBudget(r *http.Request) time.Duration {
	for _, pref := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(pref, ",") {
			k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(k), "wait") {
				continue
			}
			n, err := strconv.Atoi(strings.Trim(strings.TrimSpace(v), `"`))
			if err != nil || n < 0 {
				continue
			}
			return min(time.Duration(n)*time.Second, maxWait)
		}
	}
	return s.cfg.WaitBudget
}
