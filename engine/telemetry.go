package engine

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/opsflow/opsflow/engine/store"
	"github.com/opsflow/opsflow/engine/telemetry"
)

// MetricsCollectors are this engine's metrics read when Prometheus scrapes: the queue's depth
// and oldest task (asynq's Inspector) and the outbox backlog (a count). An offline engine has none.
func (e *Engine) MetricsCollectors() []prometheus.Collector {
	if e.Queue == nil {
		return nil
	}
	return []prometheus.Collector{
		telemetry.QueueCollector(e.Queue.Inspector, e.Queue.Name),
		telemetry.OutboxCollector(e.outboxBacklog),
	}
}

// outboxBacklog counts the outbox rows and finds the oldest one's creation time.
func (e *Engine) outboxBacklog() (rows int64, oldest time.Time, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a scrape must not hang
	defer cancel()
	db := e.Store.DB.WithContext(ctx)
	if err := db.Model(&store.Dispatch{}).Count(&rows).Error; err != nil || rows == 0 {
		return rows, time.Time{}, err
	}
	var first []store.Dispatch
	if err := db.Select("created_at").Order("id").Limit(1).Find(&first).Error; err != nil || len(first) == 0 {
		return rows, time.Time{}, err
	}
	return rows, first[0].CreatedAt, nil
}

// eventTraceparent is the trace context stored with a run's event ("" when there is none).
func eventTraceparent(ev *store.Event) string {
	if ev == nil {
		return ""
	}
	return ev.Traceparent
}
