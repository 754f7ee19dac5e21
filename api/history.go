package api

import (
	"net/http"
	"strconv"

	"github.com/perkflow/perkflow/domain"
)

// GET /v1/members/{memberId}/history: a member's ledger entries, newest first.

// historyPage is a page of ledger entries.
type historyPage struct {
	Items      []domain.LedgerEntry `json:"items"`
	NextCursor string               `json:"next_cursor,omitempty"`
}

// memberHistory lists a member's ledger entries, newest first.
func (s *Server) memberHistory(w http.ResponseWriter, r *http.Request) {
	id, limit, cursor, ok := s.memberPage(w, r)
	if !ok {
		return
	}
	before, ok := idCursor(w, r, cursor)
	if !ok {
		return
	}
	items, err := s.cfg.Store.History(r.Context(), id, before, limit)
	if err != nil {
		fail(w, r, err)
		return
	}
	page := historyPage{Items: items}
	if len(items) == limit {
		page.NextCursor = strconv.FormatInt(items[len(items)-1].ID, 10)
	}
	writeJSON(w, http.StatusOK, page)
}
