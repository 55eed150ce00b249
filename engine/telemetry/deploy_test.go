package telemetry

import (
	"encoding/json"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/prometheus/client_golang/prometheus"
)

// registeredNames lists every metric name the process can export: the Registry's and those of
// an engine's scrape-time collectors (described without a queue or a database).
func registeredNames(t *testing.T) map[string]bool {
	t.Helper()
	descs := make(chan *prometheus.Desc)
	go func() {
		for _, c := range []prometheus.Collector{Registry, QueueCollector(nil, "runs"),
			OutboxCollector(func() (int64, time.Time, error) { return 0, time.Time{}, nil })} {
			c.Describe(descs)
		}
		close(descs)
	}()
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	names := map[string]bool{}
	for d := range descs {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names[m[1]] = true
		}
	}
	return names
}

// metricRef finds metric names in PromQL: ours and the Go runtime's and process's.
var metricRef = regexp.MustCompile(`\b(?:opsflow|go|process)_[a-z0-9_]+`)

// unknownMetrics lists the metric names expr uses that the registry does not have (a
// histogram's _bucket, _sum and _count series count as the histogram).
func unknownMetrics(expr string, names map[string]bool) []string {
	var out []string
	for _, ref := range metricRef.FindAllString(expr, -1) {
		base := ref
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if s, ok := strings.CutSuffix(ref, suffix); ok && names[s] {
				base = s
			}
		}
		if !names[base] {
			out = append(out, ref)
		}
	}
	return out
}

func TestRegistryNames(t *testing.T) {
	names := registeredNames(t)
	for _, want := range []string{"opsflow_runs_finished_total", "opsflow_queue_oldest_task_age_seconds", "opsflow_outbox_backlog",
		"go_goroutines", "process_resident_memory_bytes"} {
		if !names[want] {
			t.Errorf("the registry has no %s", want)
		}
	}
	if got := unknownMetrics(`rate(opsflow_step_duration_seconds_bucket[5m]) + opsflow_runs_finishd_total`, names); len(got) != 1 || got[0] != "opsflow_runs_finishd_total" {
		t.Errorf("unknownMetrics found %v, want the misspelt name only", got)
	}
}

// The Grafana dashboard shipped in deploy/ names only metrics the registry has.
func TestDashboardMetricsExist(t *testing.T) {
	names := registeredNames(t)
	raw, err := os.ReadFile("../../deploy/grafana/opsflow.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("opsflow.json: %v", err)
	}
	exprs := 0
	for _, p := range dash.Panels {
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			exprs++
			if bad := unknownMetrics(target.Expr, names); len(bad) > 0 || !metricRef.MatchString(target.Expr) {
				t.Errorf("panel %q: %q names unknown metrics %v", p.Title, target.Expr, bad)
			}
		}
	}
	if exprs < 10 {
		t.Errorf("the dashboard has %d queries, want the full set", exprs)
	}
}

// The alert rules shipped in deploy/ cover failure rate, queue age and outbox backlog, and name
// only metrics the registry has.
func TestAlertRulesMetricsExist(t *testing.T) {
	names := registeredNames(t)
	raw, err := os.ReadFile("../../deploy/prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	alerts := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			alerts[r.Alert] = r.Expr
			if r.Expr == "" || r.For == "" || r.Labels["severity"] == "" || r.Annotations["summary"] == "" {
				t.Errorf("alert %q needs expr, for, a severity and a summary", r.Alert)
			}
			if bad := unknownMetrics(r.Expr, names); len(bad) > 0 {
				t.Errorf("alert %q names unknown metrics %v", r.Alert, bad)
			}
		}
	}
	for alert, metric := range map[string]string{"OpsflowRunFailureRate": "opsflow_runs_finished_total",
		"OpsflowQueueTaskAge": "opsflow_queue_oldest_task_age_seconds", "OpsflowOutboxBacklog": "opsflow_outbox_"} {
		if !strings.Contains(alerts[alert], metric) {
			t.Errorf("alert %s is missing or does not use %s", alert, metric)
		}
	}
}
