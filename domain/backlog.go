package domain

// A member's workflow parks the purchases queued behind a long backlog in Postgres when its run reaches its history
// bound with more queued than the next run's input may carry, so that the run can continue as new at its bound
// instead of accruing the backlog down past it (docs/architecture.md, "Member"). The parked purchases are a
// first-in-first-out queue per member, numbered by the workflow: rows From, From+1, … in the order it received them.

// ParkRequest parks purchases of one member as the queue's rows From, From+1, …, replacing what a failed attempt left
// at those numbers or beyond.
type ParkRequest struct {
	MemberID  string     `json:"member_id"`
	From      int64      `json:"from"`
	Purchases []Purchase `json:"purchases"`
}

// UnparkRequest reads up to Limit of a member's parked purchases from row From on, oldest first, and deletes the rows
// below DeleteBelow: those a previous run of the workflow read, which its Continue-As-New made durable elsewhere.
type UnparkRequest struct {
	MemberID    string `json:"member_id"`
	From        int64  `json:"from"`
	Limit       int    `json:"limit"`
	DeleteBelow int64  `json:"delete_below"`
}
