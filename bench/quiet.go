package bench

import (
	"context"
	"time"
)

// quiet repeats a measurement while others load the machine more than opts.MaxOtherLoad during it (up to
// opts.Retries times, pausing between attempts) and keeps the least disturbed attempt. A step that passed a search
// despite the load is kept as it is.
func quiet(ctx context.Context, opts Options, progress func(string, ...any), measure func() Step, passed func(Step) bool) Step {
	best := measure()
	for i := 0; i < opts.Retries; i++ {
		if ctx.Err() != nil || best.CPU == nil || best.CPU.OtherCores <= opts.MaxOtherLoad || (passed != nil && passed(best)) {
			break
		}
		progress("  others used %.2f cores during %s @ %.0f/s (more than %.2f): measuring again", best.CPU.OtherCores, best.Scenario, best.Rate, opts.MaxOtherLoad)
		time.Sleep(5 * time.Second)
		st := measure()
		st.Retried = best.Retried + 1
		if st.CPU == nil || best.CPU == nil || st.CPU.OtherCores < best.CPU.OtherCores || (passed != nil && passed(st)) {
			best = st
		} else {
			best.Retried = st.Retried
		}
	}
	return best
}
