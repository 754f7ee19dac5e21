package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/perkflow/perkflow/domain"
)

// Lists are cursor-paginated: ?limit= (at most 200) and ?cursor= (docs/api.md, "Lists").

// Page sizes for lists.
const (
	defaultPageSize = 50
	maxPageSize     = 200
)

func pageParams(w http.ResponseWriter, r *http.Request) (limit int, cursor string, ok bool) {
	limit = defaultPageSize
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageSize {
			fail(w, r, problem(domain.ErrInvalid, "limit must be between 1 and 200", domain.FieldError{Field: "limit", Message: "must be between 1 and 200"}))
			return 0, "", false
		}
		limit = n
	}
	return limit, q.Get("cursor"), true
}

// pageOf cuts a list read with limit+1 rows down to limit, with the cursor of the next page (key of the last item
// kept) when there was more; never nil, so that an empty page answers [].
func pageOf[T any](items []T, limit int, key func(T) string) (page []T, next string) {
	if len(items) > limit {
		items, next = items[:limit], key(items[limit-1])
	}
	if items == nil {
		items = []T{}
	}
	return items, next
}

// memberPage reads the parameters of a list of one member's things (/v1/members/{memberId}/…): the member, who
// must exist (404), and the page asked for. It answers the request itself unless ok.
func (s *Server) memberPage(w http.ResponseWriter, r *http.Request) (memberID string, limit int, cursor string, ok bool) {
	memberID = chi.URLParam(r, "memberId")
	if !domain.ValidMemberID(memberID) {
		fail(w, r, problem(domain.ErrNotFound, "no such member"))
		return "", 0, "", false
	}
	if limit, cursor, ok = pageParams(w, r); !ok {
		return "", 0, "", false
	}
	if _, err := s.cfg.Store.GetMember(r.Context(), memberID); err != nil {
		fail(w, r, err)
		return "", 0, "", false
	}
	return memberID, limit, cursor, true
}

// badCursor is the refusal of a cursor this API did not give.
func badCursor(w http.ResponseWriter, r *http.Request) {
	fail(w, r, problem(domain.ErrInvalid, "cursor is not valid", domain.FieldError{Field: "cursor", Message: "use the next_cursor of a previous page"}))
}

// idCursor reads a cursor that is a positive row id ("" → 0: the first page), refusing any other.
func idCursor(w http.ResponseWriter, r *http.Request, cursor string) (before int64, ok bool) {
	if cursor == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || n <= 0 {
		badCursor(w, r)
		return 0, false
	}
	return n, true
}
