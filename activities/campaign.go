package activities

import (
	"context"
	"maps"
	"sync"

	"go.temporal.io/sdk/activity"
	"golang.org/x/time/rate"

	"github.com/perkflow/perkflow/domain"
	"github.com/perkflow/perkflow/store"
)

// CampaignOptions tune the campaign activities.
type CampaignOptions struct {
	// AnnouncePerSecond paces announcements to the providers' rate limits (default 50 messages a second).
	AnnouncePerSecond int
	// AnnounceConcurrency is how many messages of a page are in flight at once (default 4).
	AnnounceConcurrency int
}

const defaultPageSize = 500

// SaveCampaign records a new campaign as scheduled, with the size of its segment now; a retry keeps the first record.
func (a *Activities) SaveCampaign(ctx context.Context, c domain.Campaign) (int64, error) {
	n, err := a.Store.SegmentSize(ctx, c.Segment, a.Store.Now())
	if err != nil {
		return 0, err
	}
	rec, err := a.Store.SaveCampaign(ctx, c, n)
	return rec.SegmentSize, classify(err)
}

// SetCampaignStatus records where the campaign's workflow has taken it.
func (a *Activities) SetCampaignStatus(ctx context.Context, ch domain.CampaignStatusChange) error {
	if ch.Reason != "" {
		a.logger().InfoContext(ctx, "campaign status", "campaign_id", ch.CampaignID, "status", ch.Status, "reason", ch.Reason)
	}
	return classify(a.Store.SetCampaignStatus(ctx, ch.CampaignID, ch.Status, ch.EndsAt))
}

// ChangeCampaignRule puts the campaign's earning rule in force, or ends it, for purchases that occur from ch.At on.
// Repeating a change records nothing new.
func (a *Activities) ChangeCampaignRule(ctx context.Context, ch domain.CampaignRuleChange) error {
	id := domain.CampaignRuleID(ch.CampaignID)
	if ch.Rule == nil {
		err := a.Store.DeleteRule(ctx, id, ch.At, "campaign:"+ch.CampaignID)
		if domain.CodeOf(err) == domain.ErrNotFound {
			return nil // ended before (a retry)
		}
		return classify(err)
	}
	_, err := a.Store.SaveRule(ctx, *ch.Rule, true, ch.At, "campaign:"+ch.CampaignID)
	if domain.CodeOf(err) == domain.ErrConflict { // in force with another definition (an extension): a new version
		_, err = a.Store.SaveRule(ctx, *ch.Rule, false, ch.At, "campaign:"+ch.CampaignID)
	}
	return classify(err)
}

// CampaignBudget reads what a campaign has issued of its budget.
func (a *Activities) CampaignBudget(ctx context.Context, campaignID string) (domain.CampaignBudget, error) {
	c, err := a.Store.GetCampaign(ctx, campaignID)
	if err != nil {
		return domain.CampaignBudget{}, classify(err)
	}
	return domain.CampaignBudget{Issued: c.IssuedPoints, Budget: c.BudgetPoints, Exhausted: c.BudgetExhausted}, nil
}

// GrantCampaignBonus gives the campaign's bonus to each member of its segment, page by page, within the budget. Its
// heartbeats carry the cursor, so a retried attempt resumes after the last page done; each member's bonus is written
// once whatever the retries.
func (a *Activities) GrantCampaignBonus(ctx context.Context, w domain.SegmentWalk) (domain.SegmentProgress, error) {
	return a.walkSegment(ctx, w, func(ctx context.Context, memberID string, p *domain.SegmentProgress) error {
		n, err := a.Store.GrantCampaignBonus(ctx, w.CampaignID, memberID, w.Points, a.Store.Now())
		p.Points += n
		return err
	})
}

// AnnounceCampaign sends the campaign's announcement to each member of its segment, page by page, paced to the
// providers' rate limits. Its heartbeats carry the cursor, so a retried attempt resumes after the last page done;
// each member's message is sent at most once whatever the retries.
func (a *Activities) AnnounceCampaign(ctx context.Context, w domain.SegmentWalk) (domain.SegmentProgress, error) {
	per := a.Campaigns.AnnouncePerSecond
	if per <= 0 {
		per = 50
	}
	limiter := rate.NewLimiter(rate.Limit(per), 1)
	data := maps.Clone(w.Data)
	if data == nil {
		data = map[string]string{}
	}
	if w.Channel != "" {
		data["channel"] = w.Channel
	}
	tpl := w.Template
	if tpl == "" {
		tpl = domain.TemplateCampaignAnnouncement
	}
	p, err := a.walkSegment(ctx, w, func(ctx context.Context, memberID string, p *domain.SegmentProgress) error {
		if err := limiter.Wait(ctx); err != nil {
			return err
		}
		status, err := a.sendOne(ctx, domain.Notification{Key: domain.AnnouncementKey(w.CampaignID, memberID), MemberID: memberID, Template: tpl, Data: data})
		switch status {
		case store.NotificationSent:
			p.Sent++
		case store.NotificationSkipped:
			p.Skipped++
		case store.NotificationFailed:
			p.Failed++
		}
		return err
	})
	if serr := a.Store.SetAnnounced(context.WithoutCancel(ctx), w.CampaignID, p.Sent); serr != nil && err == nil {
		err = serr
	}
	return p, err
}

// walkSegment runs do for every member of the segment after the heartbeat's cursor, a page at a time with up to
// AnnounceConcurrency members in flight, and heartbeats the progress after each complete page. A failure ends the
// attempt with the progress of the pages completed; the retry resumes from there.
func (a *Activities) walkSegment(ctx context.Context, w domain.SegmentWalk,
	do func(ctx context.Context, memberID string, p *domain.SegmentProgress) error) (domain.SegmentProgress, error) {
	var p domain.SegmentProgress
	if activity.IsActivity(ctx) && activity.HasHeartbeatDetails(ctx) {
		if err := activity.GetHeartbeatDetails(ctx, &p); err != nil {
			p = domain.SegmentProgress{}
		}
	}
	size := w.PageSize
	if size <= 0 {
		size = defaultPageSize
	}
	workers := max(a.Campaigns.AnnounceConcurrency, 1)
	if a.Campaigns.AnnounceConcurrency == 0 {
		workers = 4
	}
	for {
		ids, err := a.Store.SegmentPage(ctx, w.Segment, w.At, p.Cursor, size)
		if err != nil {
			return p, err
		}
		if len(ids) == 0 {
			return p, nil
		}
		// Each worker counts into its own progress; the page's counts join p only once the whole page is done. A
		// failure stops handing out members but lets the ones in flight finish: cancelling a provider call midway
		// would leave its outcome unknown, and such a message is never sent again.
		parts := make([]domain.SegmentProgress, workers)
		var (
			mu       sync.Mutex
			firstErr error
			wg       sync.WaitGroup
		)
		failed := func() bool { mu.Lock(); defer mu.Unlock(); return firstErr != nil }
		next := make(chan string)
		for i := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := range next {
					if err := do(ctx, id, &parts[i]); err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		for _, id := range ids {
			if failed() || ctx.Err() != nil {
				break
			}
			next <- id
		}
		close(next)
		wg.Wait()
		if firstErr == nil && ctx.Err() != nil {
			firstErr = ctx.Err()
		}
		if firstErr != nil {
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, p)
			}
			return p, firstErr
		}
		for _, q := range parts {
			p.Sent += q.Sent
			p.Skipped += q.Skipped
			p.Failed += q.Failed
			p.Points += q.Points
		}
		p.Members += int64(len(ids))
		p.Cursor = ids[len(ids)-1]
		if activity.IsActivity(ctx) {
			activity.RecordHeartbeat(ctx, p)
		}
	}
}
