package activities

import (
	"context"
	"strconv"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// ExpireLots expires lots past their date, chunk after chunk from the request's cursor, heartbeating the cursor after
// each chunk: a retried attempt resumes from the last heartbeat, and a chunk cut short by a crash is taken again
// without expiring any lot twice (each expiry is keyed by its lot). It stops after MaxChunks and reports whether
// lots are left. A request for one partition of the members takes only theirs, after its own cursor.
func (a *Activities) ExpireLots(ctx context.Context, req domain.ExpireLotsRequest) (domain.ExpireLotsResult, error) {
	res := domain.ExpireLotsResult{Cursor: req.Cursor}
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		var hb domain.ExpireLotsResult
		if err := activity.GetHeartbeatDetails(ctx, &hb); err == nil {
			res = hb
		}
	}
	maxChunks := max(req.MaxChunks, 1)
	for range maxChunks {
		next, st, more, err := a.Store.ExpireLotsChunk(ctx, req.Now, res.Cursor, store.ExpiryChunkOptions{Limit: req.ChunkSize,
			Partition: req.Partition, Partitions: req.Partitions})
		if err != nil {
			return res, classify(err)
		}
		res.Cursor, res.Stats = next, res.Stats.Add(st)
		heartbeat(ctx, res)
		if !more {
			res.Done = true
			return res, nil
		}
	}
	return res, nil
}

// RemindExpiringPoints reminds members of points that expire within the program's reminder days: it records each
// lot once against one notice per member for the day, then sends every notice not yet sent, marking each as it goes,
// so that a crash between recording and sending resends rather than loses a reminder.
func (a *Activities) RemindExpiringPoints(ctx context.Context, req domain.RemindExpiringRequest) (domain.ExpiryStats, error) {
	var st domain.ExpiryStats
	pv, err := a.Store.ProgramAt(ctx, req.Now)
	if err != nil {
		return st, classify(err)
	}
	if pv.Program.ExpiryReminderDays <= 0 {
		return st, nil
	}
	chunk := max(req.ChunkSize, 1)
	until := req.Now.AddDate(0, 0, pv.Program.ExpiryReminderDays)
	for {
		n, err := a.Store.RecordExpiryReminders(ctx, req.Now, until, chunk)
		if err != nil {
			return st, classify(err)
		}
		st.LotsReminded += n
		heartbeat(ctx, st)
		if n == 0 {
			break
		}
	}
	for {
		notices, err := a.Store.UnsentExpiryNotices(ctx, chunk)
		if err != nil {
			return st, classify(err)
		}
		if len(notices) == 0 {
			return st, nil
		}
		for _, n := range notices {
			err := a.SendNotification(ctx, domain.Notification{Key: n.Key, MemberID: n.MemberID, Template: domain.TemplateExpiryReminder,
				Data: map[string]string{"points": strconv.FormatInt(n.Points, 10), "expires_at": n.ExpiresAt.UTC().Format(time.DateOnly)}})
			if err != nil {
				return st, err
			}
			if err := a.Store.MarkExpiryNoticeSent(ctx, n.Key, a.Store.Now()); err != nil {
				return st, classify(err)
			}
			st.NoticesSent++
			heartbeat(ctx, st)
		}
	}
}

// heartbeat records progress when running as an activity (tests may call activities directly).
func heartbeat(ctx context.Context, details any) {
	if activity.IsActivity(ctx) {
		activity.RecordHeartbeat(ctx, details)
	}
}
