package api

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"
	"github.com/google/uuid"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
	"github.com/perkflow/perkflow/workflows"
)

// Bulk imports (docs/imports.md): POST /v1/imports streams the file into Postgres (store.CreateImport) as it reads
// and checks it, then starts the import workflow; a file refused on the way leaves nothing behind.

// importView is an import as the API shows it: the stored import with its rate and expected end.
type importView struct {
	store.Import
	RatePerSecond float64  `json:"rate_per_second"`
	ETASeconds    *float64 `json:"eta_seconds,omitempty"`
}

func (s *Server) viewImport(im store.Import) importView {
	v := importView{Import: im}
	if im.StartedAt == nil {
		return v
	}
	end := s.now()
	if im.FinishedAt != nil {
		end = *im.FinishedAt
	}
	if secs := end.Sub(*im.StartedAt).Seconds(); secs > 0 {
		v.RatePerSecond = float64(im.Read) / secs
	}
	if im.FinishedAt == nil && v.RatePerSecond > 0 {
		eta := float64(im.RowsTotal-im.Read) / v.RatePerSecond
		v.ETASeconds = &eta
	}
	return v
}

// importParams reads kind, format and dry_run from the query.
func importParams(r *http.Request) (domain.ImportKind, string, bool, error) {
	q := r.URL.Query()
	var v domain.Validation
	kind := domain.ImportKind(q.Get("kind"))
	v.Check(domain.ValidImportKind(kind), "kind", "must be one of members, transactions, balances")
	format := q.Get("format")
	if format == "" {
		format = domain.ImportCSV
	}
	v.Check(format == domain.ImportCSV || format == domain.ImportNDJSON, "format", "must be csv or ndjson")
	dry := false
	if d := q.Get("dry_run"); d != "" {
		b, err := strconv.ParseBool(d)
		v.Check(err == nil, "dry_run", "must be true or false")
		dry = b
	}
	return kind, format, dry, v.Err()
}

// errImportTooLarge answers a file over domain.MaxImportBytes.
var errImportTooLarge = problem(errBodyTooLarge, fmt.Sprintf("an import file must be at most %d bytes (2 GiB)", domain.MaxImportBytes))

// createImport reads the file as it streams in, copying its rows into Postgres, then starts the import workflow:
// 202 with the import. A bad query, header, encoding or line, or a file too large → 4xx, nothing written.
func (s *Server) createImport(w http.ResponseWriter, r *http.Request) {
	kind, format, dry, err := importParams(r)
	if err != nil {
		fail(w, r, err)
		return
	}
	limit := s.cfg.MaxImportBytes
	if limit <= 0 {
		limit = domain.MaxImportBytes
	}
	if r.ContentLength > limit {
		fail(w, r, errImportTooLarge)
		return
	}
	body := &importBody{r: r.Body, rc: http.NewResponseController(w), limit: limit}
	var src importSource
	if format == domain.ImportCSV {
		src, err = newCSVSource(body, kind)
	} else {
		src, err = newNDJSONSource(body, kind), nil
	}
	if err != nil {
		fail(w, r, err)
		return
	}
	p, _ := principalFrom(r.Context())
	id := uuid.NewString()
	im, err := s.cfg.Store.CreateImport(r.Context(), store.ImportUpload{
		ID: id, Kind: kind, Format: format, DryRun: dry, Columns: src.columns(), CreatedBy: p.Actor(),
	}, src)
	if err != nil {
		fail(w, r, err)
		return
	}
	opts := workflows.ImportStartOptions(id, s.cfg.TaskQueue)
	if _, err := s.cfg.Temporal.ExecuteWorkflow(r.Context(), opts, workflows.ImportWorkflowName, workflows.ImportInput{ImportID: id}); err != nil {
		_ = s.cfg.Store.SetImportStatus(r.Context(), id, domain.ImportFailed, "the import workflow could not be started")
		fail(w, r, temporalRefused(err))
		return
	}
	s.log.InfoContext(r.Context(), "import accepted", "import_id", id, "kind", kind, "rows", im.RowsTotal, "dry_run", dry)
	w.Header().Set("Location", "/v1/imports/"+id)
	writeJSON(w, http.StatusAccepted, s.viewImport(im))
}

// getImport shows an import's status and progress.
func (s *Server) getImport(w http.ResponseWriter, r *http.Request) {
	im, err := s.cfg.Store.GetImport(r.Context(), chi.URLParam(r, "importId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, s.viewImport(im))
}

// importErrors answers the failed rows as CSV: the original columns, then error_line and error.
func (s *Server) importErrors(w http.ResponseWriter, r *http.Request) {
	im, err := s.cfg.Store.GetImport(r.Context(), chi.URLParam(r, "importId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="import-`+im.ID+`-errors.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write(append(append([]string(nil), im.Columns...), "error_line", "error"))
	err = s.cfg.Store.ImportErrors(r.Context(), im.ID, func(e store.ImportError) error {
		return cw.Write(append(e.Fields, strconv.FormatInt(e.Line, 10), e.Error))
	})
	cw.Flush()
	if err != nil {
		// The status is sent: the error file ends short, and the log says why.
		s.log.ErrorContext(r.Context(), "import error file cut short", "import_id", im.ID, "error", err)
	}
}

// cancelImport asks a running import to stop after its current chunk: 202 with the import.
func (s *Server) cancelImport(w http.ResponseWriter, r *http.Request) {
	if !noBody(w, r) {
		return
	}
	im, err := s.cfg.Store.GetImport(r.Context(), chi.URLParam(r, "importId"))
	if err != nil {
		fail(w, r, err)
		return
	}
	switch im.Status {
	case domain.ImportCompleted, domain.ImportFailed, domain.ImportCancelled:
		fail(w, r, problem(domain.ErrConflict, "the import has finished ("+im.Status+"); there is nothing to cancel"))
		return
	}
	if err := s.cfg.Temporal.SignalWorkflow(r.Context(), workflows.ImportWorkflowID(im.ID), "", workflows.SignalImportCancel, nil); err != nil {
		fail(w, r, temporalRefused(err))
		return
	}
	writeJSON(w, http.StatusAccepted, s.viewImport(im))
}

// importBody reads the request body, at most limit bytes, pushing the connection's read deadline on as data
// comes, so that a long upload is not cut by the server's read timeout while a stalled one still is.
type importBody struct {
	r     io.Reader
	rc    *http.ResponseController
	n     int64
	limit int64
	last  time.Time
}

// importReadIdle is how long an upload may send nothing before it is dropped.
const importReadIdle = time.Minute

func (b *importBody) Read(p []byte) (int, error) {
	if now := time.Now(); now.Sub(b.last) > time.Second {
		b.last = now
		_ = b.rc.SetReadDeadline(now.Add(importReadIdle))
		_ = b.rc.SetWriteDeadline(now.Add(importReadIdle + time.Minute))
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.limit {
		return n, errImportTooLarge
	}
	return n, err
}

// importSource is a file being read: the store copies its rows (store.ImportRowSource).
type importSource interface {
	store.ImportRowSource
	columns() []string
}

// rowState is what both formats keep: the current row, the group it belongs to, the occurrences of rows seen.
type rowState struct {
	kind    domain.ImportKind
	body    *importBody
	line    int64
	grp     int64
	fields  []string
	occ     int32
	err     error
	lastTxn string
	txnGrp  int64
	seen    map[[16]byte]int32
}

func (s *rowState) Row() (int64, int64, []string, int32) { return s.line, s.grp, s.fields, s.occ }
func (s *rowState) Err() error                           { return s.err }
func (s *rowState) Bytes() int64                         { return s.body.n }

// place sets the row's group (a transaction's consecutive lines share the first one's) and occurrence.
func (s *rowState) place() {
	s.grp = s.line
	if s.kind == domain.ImportTransactions {
		// transaction_id is the first column of both formats.
		if id := strings.TrimSpace(s.fields[0]); id != "" && id == s.lastTxn {
			s.grp = s.txnGrp
		} else {
			s.lastTxn, s.txnGrp = id, s.line
		}
	}
	s.occ = 1
	if s.kind == domain.ImportBalances {
		h := sha256.Sum256([]byte(strings.Join(s.fields, "\x1f")))
		var k [16]byte
		copy(k[:], h[:])
		s.seen[k]++
		s.occ = s.seen[k]
	}
}

// readErr turns a read error into the upload's error: too large → 413, anything else names the line.
func (s *rowState) readErr(err error, line int64) {
	var de *domain.Error
	switch {
	case errors.As(err, &de):
		s.err = err
	case errors.Is(err, io.ErrUnexpectedEOF):
		s.err = domain.ImportLineError(line, "the file ends in the middle of a row")
	default:
		s.err = domain.ImportLineError(line, "the file could not be read: %v", err)
	}
}

type csvSource struct {
	rowState
	rd   *csv.Reader
	cols []string
}

func newCSVSource(body *importBody, kind domain.ImportKind) (*csvSource, error) {
	rd := csv.NewReader(bufio.NewReaderSize(body, 1<<16))
	rd.FieldsPerRecord = -1
	rd.ReuseRecord = false
	header, err := rd.Read()
	if errors.Is(err, io.EOF) {
		return nil, problem(domain.ErrInvalid, "the file is empty: it needs a header and rows")
	}
	src := &csvSource{rowState: rowState{kind: kind, body: body, seen: map[[16]byte]int32{}}, rd: rd}
	if err != nil {
		src.readErr(err, 1)
		return nil, src.err
	}
	if bad := firstInvalidUTF8(header); bad >= 0 {
		return nil, domain.ImportLineError(1, "the header is not valid UTF-8")
	}
	if src.cols, err = domain.CheckImportHeader(kind, header); err != nil {
		return nil, err
	}
	return src, nil
}

func (s *csvSource) columns() []string { return s.cols }

func (s *csvSource) Next() bool {
	if s.err != nil {
		return false
	}
	rec, err := s.rd.Read()
	if errors.Is(err, io.EOF) {
		return false
	}
	if err != nil {
		var pe *csv.ParseError
		line := s.line + 1
		switch {
		case errors.Is(err, errImportTooLarge):
			s.err = errImportTooLarge
		case errors.As(err, &pe):
			s.err = domain.ImportLineError(int64(pe.StartLine), "malformed CSV: %v", pe.Err)
		default:
			s.readErr(err, line)
		}
		return false
	}
	line, _ := s.rd.FieldPos(0)
	s.line = int64(line)
	if len(rec) != len(s.cols) {
		s.err = domain.ImportLineError(s.line, "%d fields where the header has %d", len(rec), len(s.cols))
		return false
	}
	if firstInvalidUTF8(rec) >= 0 {
		s.err = domain.ImportLineError(s.line, "not valid UTF-8: import files must be encoded in UTF-8")
		return false
	}
	s.fields = rec
	s.place()
	return true
}

func firstInvalidUTF8(fields []string) int {
	for i, f := range fields {
		if !utf8.ValidString(f) {
			return i
		}
	}
	return -1
}

// maxNDJSONLine bounds one NDJSON line.
const maxNDJSONLine = 1 << 20

type ndjsonSource struct {
	rowState
	rd    *bufio.Reader
	cols  []string
	index map[string]int
	n     int64
}

func newNDJSONSource(body *importBody, kind domain.ImportKind) *ndjsonSource {
	cols := domain.NDJSONImportColumns(kind)
	idx := map[string]int{}
	for i, c := range cols {
		idx[c] = i
	}
	return &ndjsonSource{rowState: rowState{kind: kind, body: body, seen: map[[16]byte]int32{}},
		rd: bufio.NewReaderSize(body, 1<<16), cols: cols, index: idx}
}

func (s *ndjsonSource) columns() []string { return s.cols }

func (s *ndjsonSource) Next() bool {
	for s.err == nil {
		raw, err := s.readLine()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				s.readErr(err, s.n+1)
			}
			return false
		}
		s.n++
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		if !utf8.Valid(raw) {
			s.err = domain.ImportLineError(s.n, "not valid UTF-8: import files must be encoded in UTF-8")
			return false
		}
		fields, err := s.decode(raw)
		if err != nil {
			s.err = domain.ImportLineError(s.n, "%v", err)
			return false
		}
		s.line, s.fields = s.n, fields
		s.place()
		return true
	}
	return false
}

// readLine reads one line, at most maxNDJSONLine bytes; io.EOF only when nothing is left.
func (s *ndjsonSource) readLine() ([]byte, error) {
	var line []byte
	for {
		chunk, err := s.rd.ReadSlice('\n')
		line = append(line, chunk...)
		if len(line) > maxNDJSONLine {
			return nil, domain.ImportLineError(s.n+1, "a line is longer than %d bytes", maxNDJSONLine)
		}
		switch {
		case err == nil:
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(line) > 0:
			return line, nil
		default:
			return nil, err
		}
	}
}

// decode reads one object into the columns: each member a string, number, boolean or null, and a known column.
func (s *ndjsonSource) decode(raw []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errors.New("not a JSON object")
	}
	if dec.More() {
		return nil, errors.New("more than one JSON value on the line")
	}
	fields := make([]string, len(s.cols))
	for k, v := range obj {
		i, ok := s.index[k]
		if !ok {
			return nil, fmt.Errorf("unknown field %q (the fields are %s)", k, strings.Join(s.cols, ", "))
		}
		switch x := v.(type) {
		case nil:
		case string:
			fields[i] = x
		case json.Number:
			fields[i] = x.String()
		case bool:
			fields[i] = strconv.FormatBool(x)
		default:
			return nil, fmt.Errorf("field %q must be a string, a number or a boolean", k)
		}
	}
	return fields, nil
}
