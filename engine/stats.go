package engine

import (
	"context"
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/google/uuid"
	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/store"
)

// StatsWindows are the periods the dashboard covers.
var StatsWindows = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour}

// DurationSample bounds how many of each flow's newest finished runs the embedded database's
// percentiles are computed from (in Go: SQLite has no percentile function). Postgres computes
// them over every run of the window with percentile_cont.
const DurationSample = 1000

// Stats summarises the runs of a window (test runs left out), for the dashboard.
type Stats struct {
	Window string    `json:"window"`
	Since  time.Time `json:"since"`
	Until  time.Time `json:"until"`
	// Percentiles is "exact" (Postgres) or "sample" (the embedded database: the newest
	// SampleSize finished runs of each flow).
	Percentiles  string         `json:"percentiles"`
	SampleSize   int            `json:"sample_size,omitempty"`
	Hours        []HourStats    `json:"hours"`
	Flows        []FlowStats    `json:"flows"`
	FailingNodes []FailingNode  `json:"failing_nodes"`
	Totals       map[string]int `json:"totals"`
}

// HourStats counts the runs created in one hour by status.
type HourStats struct {
	Hour   time.Time      `json:"hour"`
	Counts map[string]int `json:"counts"`
}

// FlowStats is one flow's runs in the window. SuccessRate is succeeded / (succeeded + failed),
// null with no finished run; the durations (finished_at − started_at) cover succeeded and failed runs.
type FlowStats struct {
	FlowID      string         `json:"flow_id"`
	FlowName    string         `json:"flow_name"`
	Runs        int            `json:"runs"`
	Counts      map[string]int `json:"counts"`
	SuccessRate *float64       `json:"success_rate"`
	P50Ms       *float64       `json:"p50_ms"`
	P95Ms       *float64       `json:"p95_ms"`
}

// FailingNode is a node whose step failed in runs of the window, with how often.
type FailingNode struct {
	FlowID    string `json:"flow_id"`
	FlowName  string `json:"flow_name"`
	NodeID    string `json:"node_id"`
	NodeType  string `json:"node_type"`
	Failures  int    `json:"failures"`
	LastRunID string `json:"last_run_id"`
}

// topFailingNodes is how many failing nodes Stats lists.
const topFailingNodes = 10

// idAt is the smallest run id created at t or later: ids are UUIDv7, so a range of ids is a range of
// creation times, and the window is read through the primary key instead of another index on runs.
func idAt(t time.Time) string {
	var u uuid.UUID
	ms := uint64(t.UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	return u.String()
}

// Stats computes the dashboard's numbers for a window ("24h" or "7d") ending now, for every flow
// or one (flowID). Counting and grouping happen in SQL on both databases.
func (e *Engine) Stats(ctx context.Context, window, flowID string) (*Stats, error) {
	d, ok := StatsWindows[window]
	if !ok {
		return nil, fmt.Errorf("unknown window %q", window)
	}
	now := time.Now().UTC()
	since := now.Add(-d).Truncate(time.Hour)
	st := &Stats{Window: window, Since: since, Until: now, Hours: []HourStats{}, Flows: []FlowStats{}, FailingNodes: []FailingNode{}, Totals: map[string]int{}}
	db := e.Store.DB.WithContext(ctx)
	pg := db.Dialector.Name() == "postgres"
	runs := func() *gorm.DB {
		q := db.Table("runs").Where("runs.id >= ? AND runs.dry_run = ?", idAt(since), false)
		if flowID != "" {
			q = q.Where("runs.flow_id = ?", flowID)
		}
		return q
	}

	// Runs by hour, flow and status in one pass over the window: the per-hour series and the
	// per-flow counts both come from it.
	hourExpr := "strftime('%Y-%m-%dT%H', created_at)"
	if pg {
		hourExpr = `to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24')`
	}
	var counted []struct {
		Hour   string
		FlowID string
		Status string
		N      int
	}
	if err := runs().Select(hourExpr + " AS hour, flow_id, status, COUNT(*) AS n").Group("hour, flow_id, status").Scan(&counted).Error; err != nil {
		return nil, err
	}
	byHour := map[time.Time]map[string]int{}
	flows := map[string]*FlowStats{}
	for _, r := range counted {
		h, err := time.Parse("2006-01-02T15", r.Hour)
		if err != nil {
			return nil, fmt.Errorf("hour bucket %q: %w", r.Hour, err)
		}
		if byHour[h] == nil {
			byHour[h] = map[string]int{}
		}
		byHour[h][r.Status] += r.N
		st.Totals[r.Status] += r.N
		f := flows[r.FlowID]
		if f == nil {
			f = &FlowStats{FlowID: r.FlowID, Counts: map[string]int{}}
			flows[r.FlowID] = f
		}
		f.Counts[r.Status] += r.N
		f.Runs += r.N
	}
	for h := since; !h.After(now); h = h.Add(time.Hour) {
		c := byHour[h]
		if c == nil {
			c = map[string]int{}
		}
		st.Hours = append(st.Hours, HourStats{Hour: h, Counts: c})
	}

	// Duration percentiles per flow.
	finished := []string{store.RunSucceeded, store.RunFailed}
	if pg {
		st.Percentiles = "exact"
		var pct []struct {
			FlowID   string
			P50, P95 float64
		}
		if err := runs().Select("flow_id, "+
			"percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at) * 1000) AS p50, "+
			"percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM finished_at - started_at) * 1000) AS p95").
			Where("status IN ? AND started_at IS NOT NULL AND finished_at IS NOT NULL", finished).
			Group("flow_id").Scan(&pct).Error; err != nil {
			return nil, err
		}
		for _, p := range pct {
			if f := flows[p.FlowID]; f != nil {
				p50, p95 := math.Round(p.P50), math.Round(p.P95)
				f.P50Ms, f.P95Ms = &p50, &p95
			}
		}
	} else {
		st.Percentiles, st.SampleSize = "sample", DurationSample
		// One bounded query per flow (through its flow_id index), newest first.
		for id, f := range flows {
			var sample []struct{ StartedAt, FinishedAt time.Time }
			if err := runs().Select("started_at, finished_at").
				Where("runs.flow_id = ? AND status IN ? AND started_at IS NOT NULL AND finished_at IS NOT NULL", id, finished).
				Order("id DESC").Limit(DurationSample).Scan(&sample).Error; err != nil {
				return nil, err
			}
			if len(sample) == 0 {
				continue
			}
			ms := make([]float64, len(sample))
			for i, r := range sample {
				ms[i] = float64(r.FinishedAt.Sub(r.StartedAt).Microseconds()) / 1000
			}
			p50, p95 := math.Round(percentile(ms, 0.5)), math.Round(percentile(ms, 0.95))
			f.P50Ms, f.P95Ms = &p50, &p95
		}
	}

	// Top failing nodes: the failed steps of the window's failed runs (a step that failed and then
	// succeeded on retry is recorded as succeeded), read from the failed runs only.
	q := db.Table("steps").Joins("JOIN runs ON runs.id = steps.run_id").
		Where("runs.id >= ? AND runs.dry_run = ? AND runs.status = ? AND steps.status = ?", idAt(since), false, store.RunFailed, store.StepFailed)
	if flowID != "" {
		q = q.Where("runs.flow_id = ?", flowID)
	}
	if err := q.Select("runs.flow_id AS flow_id, steps.node_id AS node_id, steps.node_type AS node_type, COUNT(*) AS failures, MAX(runs.id) AS last_run_id").
		Group("runs.flow_id, steps.node_id, steps.node_type").Order("failures DESC, last_run_id DESC").Limit(topFailingNodes).
		Scan(&st.FailingNodes).Error; err != nil {
		return nil, err
	}

	// Flow names, for the table and the failing nodes.
	ids := make([]string, 0, len(flows))
	for id := range flows {
		ids = append(ids, id)
	}
	var named []store.Flow
	if err := db.Select("id", "name").Where("id IN ?", ids).Find(&named).Error; err != nil {
		return nil, err
	}
	names := map[string]string{}
	for _, f := range named {
		names[f.ID] = f.Name
	}
	for _, f := range flows {
		f.FlowName = names[f.FlowID]
		if done := f.Counts[store.RunSucceeded] + f.Counts[store.RunFailed]; done > 0 {
			r := float64(f.Counts[store.RunSucceeded]) / float64(done)
			f.SuccessRate = &r
		}
		st.Flows = append(st.Flows, *f)
	}
	sort.Slice(st.Flows, func(i, j int) bool {
		if st.Flows[i].Runs != st.Flows[j].Runs {
			return st.Flows[i].Runs > st.Flows[j].Runs
		}
		return st.Flows[i].FlowName < st.Flows[j].FlowName
	})
	for i := range st.FailingNodes {
		st.FailingNodes[i].FlowName = names[st.FailingNodes[i].FlowID]
	}
	return st, nil
}

// percentile is the p-th percentile of v with linear interpolation between the nearest ranks,
// the same definition as Postgres' percentile_cont.
func percentile(v []float64, p float64) float64 {
	sort.Float64s(v)
	pos := p * float64(len(v)-1)
	lo := int(math.Floor(pos))
	if lo+1 >= len(v) {
		return v[len(v)-1]
	}
	return v[lo] + (pos-float64(lo))*(v[lo+1]-v[lo])
}
