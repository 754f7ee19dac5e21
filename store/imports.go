package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/perkflow/perkflow/domain"
)

// Bulk imports (docs/imports.md). An upload is copied (COPY) into import_rows in the database transaction that
// creates its imports row, so a refused file leaves nothing. The import workflow loads it in batches of row groups
// (LoadImportBatch): each batch validates its rows, applies them set-based, keyed on external_id / transaction_id /
// a deterministic lot key, and records its outcome in import_batches, all in one database transaction. A batch run
// again (a retried activity, a resumed or repeated import) changes nothing twice.

// Import is an import as GET /v1/imports/{id} shows it.
type Import struct {
	ID         string     `json:"import_id"`
	Kind       string     `json:"kind"`
	Format     string     `json:"format"`
	DryRun     bool       `json:"dry_run"`
	Status     string     `json:"status"`
	Columns    []string   `json:"-"`
	RowsTotal  int64      `json:"rows_total"`
	FirstLine  int64      `json:"-"`
	LastLine   int64      `json:"-"`
	Bytes      int64      `json:"bytes"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	Failure    string     `json:"failure,omitempty"`
	domain.ImportCounts
}

// ImportUpload describes a file about to be copied in.
type ImportUpload struct {
	ID        string
	Kind      domain.ImportKind
	Format    string
	DryRun    bool
	Columns   []string
	CreatedBy string
}

// ImportRowSource yields the rows of an upload as it is read. Next returns false at the end or on an error, which
// Err then returns: the upload is then refused and nothing is written.
type ImportRowSource interface {
	Next() bool
	// Row is the current row: its line, the line of its group's first row, its fields and its occurrence (how many
	// identical rows came before it, plus one).
	Row() (line, grp int64, fields []string, occurrence int32)
	Err() error
	// Bytes is how much of the file was read.
	Bytes() int64
}

type copySource struct {
	id    uuid.UUID
	src   ImportRowSource
	n     int64
	first int64
	last  int64
}

func (c *copySource) Next() bool { return c.src.Next() }
func (c *copySource) Err() error { return c.src.Err() }
func (c *copySource) Values() ([]any, error) {
	line, grp, fields, occ := c.src.Row()
	c.n++
	if c.first == 0 {
		c.first = line
	}
	c.last = line
	return []any{c.id, line, grp, fields, occ}, nil
}

// CreateImport records an import and copies its rows in, in one database transaction: when the source fails (a
// line that cannot be read, a body too large) or holds no row, nothing is written and its error is returned.
func (s *Store) CreateImport(ctx context.Context, u ImportUpload, src ImportRowSource) (Import, error) {
	id, err := uuid.Parse(u.ID)
	if err != nil {
		return Import{}, domain.Errorf(domain.ErrInvalid, "import id %q is not a UUID", u.ID)
	}
	now := s.Now()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `
			INSERT INTO imports (id, kind, format, dry_run, columns, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			id, u.Kind, u.Format, u.DryRun, u.Columns, u.CreatedBy, now); err != nil {
			return wrap("insert import", err)
		}
		cs := &copySource{id: id, src: src}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"import_rows"}, []string{"import_id", "line", "grp", "fields", "occurrence"}, cs); err != nil {
			if srcErr := src.Err(); srcErr != nil {
				return srcErr
			}
			return wrap("copy import rows", err)
		}
		if cs.n == 0 {
			return domain.Errorf(domain.ErrInvalid, "the file has no rows")
		}
		_, err := tx.Exec(ctx, `UPDATE imports SET rows_total = $2, first_line = $3, last_line = $4, bytes = $5 WHERE id = $1`,
			id, cs.n, cs.first, cs.last, src.Bytes())
		return wrap("count import rows", err)
	})
	if err != nil {
		return Import{}, err
	}
	return s.GetImport(ctx, u.ID)
}

// GetImport reads an import with its counts so far; unknown → domain.ErrNotFound.
func (s *Store) GetImport(ctx context.Context, id string) (Import, error) {
	if uuid.Validate(id) != nil {
		return Import{}, domain.Errorf(domain.ErrNotFound, "no such import")
	}
	var im Import
	var failure *string
	err := s.pool.QueryRow(ctx, `
		SELECT i.id::text, i.kind, i.format, i.dry_run, i.status, i.columns, i.rows_total, i.first_line, i.last_line, i.bytes,
		       i.created_by, i.created_at, i.started_at, i.finished_at, i.failure,
		       COALESCE(sum(b.rows_read), 0), COALESCE(sum(b.imported), 0), COALESCE(sum(b.skipped), 0), COALESCE(sum(b.failed), 0)
		FROM imports i LEFT JOIN import_batches b ON b.import_id = i.id
		WHERE i.id = $1 GROUP BY i.id`, id).Scan(&im.ID, &im.Kind, &im.Format, &im.DryRun, &im.Status, &im.Columns,
		&im.RowsTotal, &im.FirstLine, &im.LastLine, &im.Bytes, &im.CreatedBy, &im.CreatedAt, &im.StartedAt, &im.FinishedAt,
		&failure, &im.Read, &im.Imported, &im.Skipped, &im.Failed)
	if errors.Is(err, pgx.ErrNoRows) {
		return Import{}, domain.Errorf(domain.ErrNotFound, "no such import")
	}
	im.Failure = deref(failure)
	return im, wrap("get import", err)
}

// SetImportStatus moves an import to a status; a finished one (completed, failed, cancelled) keeps its status and
// gets its finishing time once.
func (s *Store) SetImportStatus(ctx context.Context, id, status, failure string) error {
	now := s.Now()
	_, err := s.pool.Exec(ctx, `
		UPDATE imports SET status = $2, failure = NULLIF($3, ''),
		       started_at = COALESCE(started_at, $4),
		       finished_at = CASE WHEN $2 IN ('completed', 'failed', 'cancelled') THEN COALESCE(finished_at, $4) END
		WHERE id = $1 AND status NOT IN ('completed', 'failed', 'cancelled')`, id, status, failure, now)
	return wrap("set import status", err)
}

// ImportError is a failed row: its line, its fields as read and why it failed.
type ImportError struct {
	Line   int64
	Fields []string
	Error  string
}

// ImportErrors calls fn for each failed row of an import, by line.
func (s *Store) ImportErrors(ctx context.Context, id string, fn func(ImportError) error) error {
	rows, err := s.pool.Query(ctx, `
		SELECT e.line, r.fields, e.error FROM import_errors e
		JOIN import_rows r ON r.import_id = e.import_id AND r.line = e.line
		WHERE e.import_id = $1 ORDER BY e.line`, id)
	if err != nil {
		return wrap("read import errors", err)
	}
	defer rows.Close()
	for rows.Next() {
		var e ImportError
		if err := rows.Scan(&e.Line, &e.Fields, &e.Error); err != nil {
			return wrap("read import errors", err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return wrap("read import errors", rows.Err())
}

// importRow is a row of import_rows.
type importRow struct {
	line, grp  int64
	fields     []string
	occurrence int32
}

// ImportBatchResult is what one batch did; Next is the group the next batch starts from.
type ImportBatchResult struct {
	Next int64 `json:"next"`
	domain.ImportCounts
	// uncounted: a dry run's batch, or one loaded before, is not counted in the metrics.
	uncounted bool
}

// LoadImportBatch loads the row groups [from, to) of an import, once: a batch already loaded returns what it did
// then and changes nothing. A dry run checks the rows and reports what would happen, and writes only the outcome.
func (s *Store) LoadImportBatch(ctx context.Context, id string, from, to int64) (ImportBatchResult, error) {
	res := ImportBatchResult{Next: to}
	now := s.Now()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		res = ImportBatchResult{Next: to}
		var kind string
		var dry bool
		var cols []string
		// One batch of an import at a time: a retried batch waits for an attempt still running, then finds its record.
		err := tx.QueryRow(ctx, `SELECT kind, dry_run, columns FROM imports WHERE id = $1 FOR UPDATE`, id).Scan(&kind, &dry, &cols)
		if errors.Is(err, pgx.ErrNoRows) {
			return domain.Errorf(domain.ErrNotFound, "no such import")
		}
		if err != nil {
			return wrap("lock import", err)
		}
		err = tx.QueryRow(ctx, `SELECT next_grp, rows_read, imported, skipped, failed FROM import_batches WHERE import_id = $1 AND first_grp = $2`,
			id, from).Scan(&res.Next, &res.Read, &res.Imported, &res.Skipped, &res.Failed)
		if err == nil {
			res.uncounted = true // counted when it was loaded
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return wrap("read import batch", err)
		}
		rows, err := tx.Query(ctx, `SELECT line, grp, fields, occurrence FROM import_rows WHERE import_id = $1 AND grp >= $2 AND grp < $3 ORDER BY line`, id, from, to)
		if err != nil {
			return wrap("read import rows", err)
		}
		batch, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (importRow, error) {
			var ir importRow
			return ir, r.Scan(&ir.line, &ir.grp, &ir.fields, &ir.occurrence)
		})
		if err != nil {
			return wrap("read import rows", err)
		}
		l := &importLoad{tx: tx, id: id, cols: columnIndex(cols), now: now, errs: map[int64]string{}}
		if dry {
			if _, err := tx.Exec(ctx, `SAVEPOINT dry_run`); err != nil {
				return wrap("dry run", err)
			}
		}
		switch domain.ImportKind(kind) {
		case domain.ImportMembers:
			err = l.members(ctx, batch)
		case domain.ImportBalances:
			err = l.balances(ctx, batch)
		case domain.ImportTransactions:
			err = l.transactions(ctx, batch)
		default:
			err = fmt.Errorf("unknown import kind %q", kind)
		}
		if err != nil {
			return err
		}
		if dry {
			if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT dry_run`); err != nil {
				return wrap("dry run", err)
			}
		}
		if len(l.errs) > 0 {
			lines, msgs := make([]int64, 0, len(l.errs)), make([]string, 0, len(l.errs))
			for line, msg := range l.errs {
				lines, msgs = append(lines, line), append(msgs, msg)
			}
			if _, err := tx.Exec(ctx, `
				INSERT INTO import_errors (import_id, line, error) SELECT $1, * FROM unnest($2::bigint[], $3::text[])
				ON CONFLICT DO NOTHING`, id, lines, msgs); err != nil {
				return wrap("record import errors", err)
			}
		}
		res.Read, res.uncounted = int64(len(batch)), dry
		res.Imported, res.Skipped, res.Failed = l.imported, l.skipped, int64(len(l.errs))
		_, err = tx.Exec(ctx, `
			INSERT INTO import_batches (import_id, first_grp, next_grp, rows_read, imported, skipped, failed, done_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, from, to, res.Read, res.Imported, res.Skipped, res.Failed, now)
		return wrap("record import batch", err)
	})
	if err != nil {
		return ImportBatchResult{}, wrap("load import batch", err)
	}
	if !res.uncounted {
		s.metrics.ImportRows("loaded", res.Imported)
		s.metrics.ImportRows("rejected", res.Failed)
	}
	return res, nil
}

func columnIndex(cols []string) map[string]int {
	m := make(map[string]int, len(cols))
	for i, c := range cols {
		m[c] = i
	}
	return m
}

// importLoad is one batch being loaded: what it counted and the rows that failed, by line.
type importLoad struct {
	tx                pgx.Tx
	id                string
	cols              map[string]int
	now               time.Time
	imported, skipped int64
	errs              map[int64]string
}

func (l *importLoad) fail(line int64, err error) {
	var de *domain.Error
	if errors.As(err, &de) {
		l.errs[line] = de.Message
		return
	}
	l.errs[line] = err.Error()
}

// importNamespace derives imported members' ids from their external id, so that a member imported twice (a retried
// batch, the same file again) has one id.
var importNamespace = uuid.MustParse("6f1c1f8e-0b2a-4d3e-9a57-2d1f3c4b5a69")

// ImportedMemberID is the member id an import gives the member of an external id.
func ImportedMemberID(externalID string) string {
	return uuid.NewSHA1(importNamespace, []byte(externalID)).String()
}

type existingMember struct {
	id, ext, status, importedBy string
	email, phone, name, birth   string
	consentEmail, consentSMS    bool
}

// members upserts a batch of members, keyed on external_id: new ones are inserted (with their balance, and no
// workflow: it starts on first need), changed ones updated, unchanged ones skipped.
func (l *importLoad) members(ctx context.Context, batch []importRow) error {
	type good struct {
		line int64
		m    domain.ImportedMember
	}
	var goods []good
	seenExt, seenEmail := map[string]int64{}, map[string]int64{}
	var exts, emails []string
	for _, r := range batch {
		m, err := domain.ParseImportedMember(domain.NewImportRow(l.cols, r.fields), l.now)
		if err != nil {
			l.fail(r.line, err)
			continue
		}
		if first, ok := seenExt[m.ExternalID]; ok {
			l.fail(r.line, fmt.Errorf("external_id: appears again (first at line %d)", first))
			continue
		}
		if first, ok := seenEmail[m.Email]; ok {
			l.fail(r.line, fmt.Errorf("email: appears again (first at line %d)", first))
			continue
		}
		seenExt[m.ExternalID], seenEmail[m.Email] = r.line, r.line
		goods = append(goods, good{r.line, m})
		exts, emails = append(exts, m.ExternalID), append(emails, m.Email)
	}
	if len(goods) == 0 {
		return nil
	}
	rows, err := l.tx.Query(ctx, `
		SELECT id::text, COALESCE(external_id, ''), status, COALESCE(imported_by::text, ''), COALESCE(lower(email), ''), COALESCE(phone, ''), COALESCE(name, ''),
		       COALESCE(to_char(birthdate, 'YYYY-MM-DD'), ''), consent_email, consent_sms
		FROM members WHERE external_id = ANY($1) OR (email IS NOT NULL AND lower(email) = ANY($2))`, exts, emails)
	if err != nil {
		return wrap("read members", err)
	}
	existing, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (existingMember, error) {
		var e existingMember
		return e, r.Scan(&e.id, &e.ext, &e.status, &e.importedBy, &e.email, &e.phone, &e.name, &e.birth, &e.consentEmail, &e.consentSMS)
	})
	if err != nil {
		return wrap("read members", err)
	}
	byExt, emailOwner := map[string]existingMember{}, map[string]string{}
	for _, e := range existing {
		if e.ext != "" {
			byExt[e.ext] = e
		}
		if e.email != "" {
			emailOwner[e.email] = e.id
		}
	}
	var seen []string // unchanged members, marked as this import's so that a later line naming them is refused
	var ins, upd struct {
		id, ext, email, phone, name, birth []string
		ce, cs                             []bool
		joined                             []time.Time
	}
	for _, g := range goods {
		m := g.m
		e, exists := byExt[m.ExternalID]
		owner, taken := emailOwner[m.Email]
		switch {
		case exists && e.status != "active":
			l.fail(g.line, errors.New("external_id: the member was erased"))
		case exists && e.importedBy == l.id && !same(e, m):
			l.fail(g.line, errors.New("external_id: appears on an earlier line of this file"))
		case taken && (!exists || owner != e.id):
			l.fail(g.line, errors.New("email: another member holds this email"))
		case exists && same(e, m):
			seen = append(seen, e.id)
			l.skipped++
		case exists:
			upd.id, upd.email, upd.phone, upd.name = append(upd.id, e.id), append(upd.email, m.Email), append(upd.phone, m.Phone), append(upd.name, m.Name)
			upd.birth, upd.ce, upd.cs = append(upd.birth, m.Birthdate), append(upd.ce, m.Consent.Email), append(upd.cs, m.Consent.SMS)
			l.imported++
		default:
			joined := l.now
			if m.JoinedAt != nil {
				joined = *m.JoinedAt
			}
			ins.id, ins.ext, ins.email = append(ins.id, ImportedMemberID(m.ExternalID)), append(ins.ext, m.ExternalID), append(ins.email, m.Email)
			ins.phone, ins.name, ins.birth = append(ins.phone, m.Phone), append(ins.name, m.Name), append(ins.birth, m.Birthdate)
			ins.ce, ins.cs, ins.joined = append(ins.ce, m.Consent.Email), append(ins.cs, m.Consent.SMS), append(ins.joined, joined)
			l.imported++
		}
	}
	if len(ins.id) > 0 {
		if _, err := l.tx.Exec(ctx, `
			INSERT INTO members (id, external_id, email, phone, name, birthdate, consent_email, consent_sms, joined_at, updated_at,
			                     imported_by, workflow_pending)
			SELECT u.id, u.ext, u.email, NULLIF(u.phone, ''), u.name, NULLIF(u.birth, '')::date, u.ce, u.cs, u.joined, $10, $11, true
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bool[], $8::bool[], $9::timestamptz[])
			     AS u (id, ext, email, phone, name, birth, ce, cs, joined)`,
			ins.id, ins.ext, ins.email, ins.phone, ins.name, ins.birth, ins.ce, ins.cs, ins.joined, l.now, l.id); err != nil {
			return wrap("insert members", err)
		}
		if _, err := l.tx.Exec(ctx, `INSERT INTO member_balances (member_id) SELECT unnest($1::uuid[])`, ins.id); err != nil {
			return wrap("open balances", err)
		}
	}
	if len(seen) > 0 {
		if _, err := l.tx.Exec(ctx, `UPDATE members SET imported_by = $2 WHERE id = ANY($1::uuid[])`, seen, l.id); err != nil {
			return wrap("mark members", err)
		}
	}
	if len(upd.id) > 0 {
		if _, err := l.tx.Exec(ctx, `
			UPDATE members m SET email = u.email, phone = NULLIF(u.phone, ''), name = u.name, birthdate = NULLIF(u.birth, '')::date,
			       consent_email = u.ce, consent_sms = u.cs, updated_at = $8, imported_by = $9
			FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bool[], $7::bool[])
			     AS u (id, email, phone, name, birth, ce, cs)
			WHERE m.id = u.id`, upd.id, upd.email, upd.phone, upd.name, upd.birth, upd.ce, upd.cs, l.now, l.id); err != nil {
			return wrap("update members", err)
		}
	}
	return nil
}

// same reports whether a member already holds what a row says.
func same(e existingMember, m domain.ImportedMember) bool {
	return e.email == m.Email && e.phone == m.Phone && e.name == m.Name && e.birth == m.Birthdate &&
		e.consentEmail == m.Consent.Email && e.consentSMS == m.Consent.SMS
}

// resolveMembers finds the active members the refs name: member id by ref.
func (l *importLoad) resolveMembers(ctx context.Context, refs []domain.MemberRef) (map[domain.MemberRef]string, error) {
	var ids, exts []string
	for _, r := range refs {
		if r.MemberID != "" {
			ids = append(ids, r.MemberID)
		} else {
			exts = append(exts, r.ExternalID)
		}
	}
	rows, err := l.tx.Query(ctx, `
		SELECT id::text, COALESCE(external_id, '') FROM members
		WHERE status = 'active' AND (id = ANY($1::uuid[]) OR external_id = ANY($2))`, ids, exts)
	if err != nil {
		return nil, wrap("resolve members", err)
	}
	out := map[domain.MemberRef]string{}
	for rows.Next() {
		var id, ext string
		if err := rows.Scan(&id, &ext); err != nil {
			rows.Close()
			return nil, wrap("resolve members", err)
		}
		out[domain.MemberRef{MemberID: id}] = id
		if ext != "" {
			out[domain.MemberRef{ExternalID: ext}] = id
		}
	}
	return out, wrap("resolve members", rows.Err())
}

// OpeningBalanceKey is the idempotency key of an opening balance: the member, the lot's content and its occurrence
// among identical rows of its file, so that the same file imported again credits nothing more.
func OpeningBalanceKey(memberID string, b domain.ImportedBalance, occurrence int32) string {
	exp := ""
	if b.ExpiresAt != nil {
		exp = b.ExpiresAt.UTC().Format(time.RFC3339Nano)
	}
	sum := sha256.Sum256([]byte(strconv.FormatInt(b.Points, 10) + "\x00" + exp + "\x00" + b.Reason))
	return "import-balance:" + memberID + ":" + hex.EncodeToString(sum[:12]) + ":" + strconv.Itoa(int(occurrence))
}

// balances credits each opening balance as a lot with its expiry and reason, once per key.
func (l *importLoad) balances(ctx context.Context, batch []importRow) error {
	type good struct {
		line int64
		b    domain.ImportedBalance
		occ  int32
		mid  string
		key  string
	}
	var goods []good
	var refs []domain.MemberRef
	for _, r := range batch {
		b, err := domain.ParseImportedBalance(domain.NewImportRow(l.cols, r.fields), l.now)
		if err != nil {
			l.fail(r.line, err)
			continue
		}
		goods = append(goods, good{line: r.line, b: b, occ: r.occurrence})
		refs = append(refs, b.Member)
	}
	if len(goods) == 0 {
		return nil
	}
	members, err := l.resolveMembers(ctx, refs)
	if err != nil {
		return err
	}
	var keys []string
	kept := goods[:0]
	for _, g := range goods {
		mid, ok := members[g.b.Member]
		if !ok {
			l.fail(g.line, errors.New("no such member"))
			continue
		}
		g.mid, g.key = mid, OpeningBalanceKey(mid, g.b, g.occ)
		kept = append(kept, g)
		keys = append(keys, g.key)
	}
	done := map[string]bool{}
	rows, err := l.tx.Query(ctx, `SELECT idempotency_key FROM ledger_entries WHERE idempotency_key = ANY($1)`, keys)
	if err != nil {
		return wrap("read opening balances", err)
	}
	ks, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return wrap("read opening balances", err)
	}
	for _, k := range ks {
		done[k] = true
	}
	// Members locked in id order, so that two loads never wait on each other in a cycle.
	slices.SortStableFunc(kept, func(a, b good) int { return strings.Compare(a.mid, b.mid) })
	var led *memberLedger
	for _, g := range kept {
		if done[g.key] {
			l.skipped++
			continue
		}
		if led == nil || led.memberID != g.mid {
			if led, err = lockMember(ctx, l.tx, g.mid); err != nil {
				return err
			}
		}
		if _, err := led.credit(ctx, entry{
			kind: domain.EntryAdjustment, points: g.b.Points, availableAt: l.now, expiresAt: g.b.ExpiresAt,
			sourceType: "import", sourceID: l.id, key: g.key, occurredAt: l.now, actor: "import:" + l.id, reason: g.b.Reason,
		}); err != nil {
			return err
		}
		done[g.key] = true
		l.imported++
	}
	return nil
}

// transactions records each transaction of the batch (its consecutive lines) and prices it by the program and
// rules in force at its occurred_at, as a live accrual would, without announcing it: no notification, no event.
func (l *importLoad) transactions(ctx context.Context, batch []importRow) error {
	type txn struct {
		lines []int64
		p     domain.Purchase
		ref   domain.MemberRef
	}
	var txns []txn
	var refs []domain.MemberRef
	for i := 0; i < len(batch); {
		j := i
		for j < len(batch) && batch[j].grp == batch[i].grp {
			j++
		}
		group := batch[i:j]
		i = j
		var lines []int64
		var first domain.ImportedLine
		var bad error
		var badLine int64
		items := make([]domain.LineItem, 0, len(group))
		for k, r := range group {
			lines = append(lines, r.line)
			il, err := domain.ParseImportedLine(domain.NewImportRow(l.cols, r.fields))
			switch {
			case bad != nil:
			case err != nil:
				bad, badLine = err, r.line
			case k == 0:
				first = il
			case !il.SameTransaction(first):
				bad, badLine = errors.New("the lines of a transaction must agree on its member, store, channel, occurred_at, currency and total"), r.line
			}
			if err == nil {
				items = append(items, il.Item)
			}
		}
		if bad == nil {
			p := domain.Purchase{TransactionID: first.TransactionID, MemberID: first.Member.MemberID, StoreID: first.StoreID,
				Channel: first.Channel, OccurredAt: first.OccurredAt, Total: first.Total, Items: items}
			if p.MemberID == "" {
				p.MemberID = uuid.Nil.String() // checked below, once the member is found
			}
			if err := p.Validate(l.now); err != nil {
				bad, badLine = err, lines[0]
			} else {
				txns = append(txns, txn{lines: lines, p: p, ref: first.Member})
				refs = append(refs, first.Member)
				continue
			}
		}
		l.failGroup(lines, badLine, bad)
	}
	if len(txns) == 0 {
		return nil
	}
	members, err := l.resolveMembers(ctx, refs)
	if err != nil {
		return err
	}
	kept := txns[:0]
	for _, t := range txns {
		mid, ok := members[t.ref]
		if !ok {
			l.failGroup(t.lines, t.lines[0], errors.New("no such member"))
			continue
		}
		t.p.MemberID = mid
		kept = append(kept, t)
	}
	// Members locked in id order (a member's own transactions keep the file's order).
	slices.SortStableFunc(kept, func(a, b txn) int { return strings.Compare(a.p.MemberID, b.p.MemberID) })
	for _, t := range kept {
		res, err := accruePurchase(ctx, l.tx, t.p, t.p.OccurredAt, false)
		if err != nil {
			return err
		}
		n := int64(len(t.lines))
		switch {
		case res.Replayed && res.Conflict:
			l.failGroup(t.lines, t.lines[0], errors.New("transaction_id: recorded before with another content"))
		case res.Replayed:
			l.skipped += n
		default:
			l.imported += n
		}
	}
	return nil
}

// failGroup fails every line of a transaction: the line at fault with its reason, the others pointing to it.
func (l *importLoad) failGroup(lines []int64, at int64, err error) {
	for _, line := range lines {
		if line == at {
			l.fail(line, err)
		} else {
			l.errs[line] = fmt.Sprintf("transaction not imported: line %d failed", at)
		}
	}
}

// MembersToWake lists up to limit members whose workflow was never started and who need it by `by`: a birthday on
// one of the days from now to by, or a tier review due by then.
func (s *Store) MembersToWake(ctx context.Context, now, by time.Time, limit int) ([]domain.MemberToWake, error) {
	var days []string
	for d := now.UTC().Truncate(24 * time.Hour); !d.After(by); d = d.AddDate(0, 0, 1) {
		days = append(days, d.Format("01-02"))
		if d.Month() == time.March && d.Day() == 1 { // a 29 February birthday, in a year without one
			days = append(days, "02-29")
		}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT m.id::text, t.review_at FROM members m LEFT JOIN member_tiers t ON t.member_id = m.id
		WHERE m.workflow_pending AND m.status = 'active'
		  AND (to_char(m.birthdate, 'MM-DD') = ANY($1) OR t.review_at <= $2)
		ORDER BY m.id LIMIT $3`, days, by, limit)
	if err != nil {
		return nil, wrap("members to wake", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (domain.MemberToWake, error) {
		var m domain.MemberToWake
		return m, r.Scan(&m.MemberID, &m.TierReviewAt)
	})
	return out, wrap("members to wake", err)
}

// MarkMemberWorkflowPending marks a member whose workflow did not start when they registered: their workflow starts
// on its first need, and the daily wake-up starts it for a birthday or tier review, as an imported member's.
func (s *Store) MarkMemberWorkflowPending(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE members SET workflow_pending = true WHERE id = $1`, id)
	return wrap("mark member workflow pending", err)
}

// MarkMembersWoken records that the members' workflows run.
func (s *Store) MarkMembersWoken(ctx context.Context, ids []string) error {
	_, err := s.pool.Exec(ctx, `UPDATE members SET workflow_pending = false WHERE id = ANY($1::uuid[]) AND workflow_pending`, ids)
	return wrap("mark members woken", err)
}
