package telemetry

import (
	"slices"
	"time"

	"github.com/hibiken/asynq"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	queueTasksDesc = prometheus.NewDesc("opsflow_queue_tasks",
		"Tasks in the run queue by state (pending, active, scheduled, retry, archived), read from asynq at scrape time.",
		[]string{"queue", "state"}, nil)
	queueAgeDesc = prometheus.NewDesc("opsflow_queue_oldest_task_age_seconds",
		"How long the oldest pending task of the queue has waited for a worker (0 when none waits).",
		[]string{"queue"}, nil)
	outboxBacklogDesc = prometheus.NewDesc("opsflow_outbox_backlog",
		"Committed runs (and wake-ups) not yet handed to the queue, counted at scrape time.", nil, nil)
	outboxAgeDesc = prometheus.NewDesc("opsflow_outbox_oldest_age_seconds",
		"Age of the oldest outbox row (0 when the outbox is empty).", nil, nil)
)

// queueCollector reads a queue's depth and its oldest pending task's age with asynq's Inspector
// when Prometheus scrapes, so the numbers are the queue's own, whichever process filled it.
type queueCollector struct {
	inspector *asynq.Inspector
	queue     string
}

// QueueCollector reports the depth and oldest-task age of an asynq queue at scrape time.
func QueueCollector(inspector *asynq.Inspector, queue string) prometheus.Collector {
	return &queueCollector{inspector: inspector, queue: queue}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueTasksDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	// A queue no task was ever enqueued to does not exist yet for asynq (GetQueueInfo fails): empty.
	queues, err := c.inspector.Queues()
	info := &asynq.QueueInfo{}
	if err == nil && slices.Contains(queues, c.queue) {
		info, err = c.inspector.GetQueueInfo(c.queue)
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueTasksDesc, err)
		return
	}
	for state, n := range map[string]int{"pending": info.Pending, "active": info.Active, "scheduled": info.Scheduled,
		"retry": info.Retry, "archived": info.Archived} {
		ch <- prometheus.MustNewConstMetric(queueTasksDesc, prometheus.GaugeValue, float64(n), c.queue, state)
	}
	ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, info.Latency.Seconds(), c.queue)
}

// outboxCollector counts the outbox at scrape time.
type outboxCollector struct {
	read func() (rows int64, oldest time.Time, err error)
}

// OutboxCollector reports the outbox backlog; read counts its rows and gives the oldest one's
// creation time (zero when empty).
func OutboxCollector(read func() (rows int64, oldest time.Time, err error)) prometheus.Collector {
	return &outboxCollector{read: read}
}

func (c *outboxCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- outboxBacklogDesc
	ch <- outboxAgeDesc
}

func (c *outboxCollector) Collect(ch chan<- prometheus.Metric) {
	rows, oldest, err := c.read()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(outboxBacklogDesc, err)
		return
	}
	age := 0.0
	if !oldest.IsZero() {
		age = time.Since(oldest).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(outboxBacklogDesc, prometheus.GaugeValue, float64(rows))
	ch <- prometheus.MustNewConstMetric(outboxAgeDesc, prometheus.GaugeValue, age)
}
