import { useEffect, useMemo, useState } from 'react';
import { api, type Stats, type StatsWindow } from '../api/client';
import type { FlowSummary } from '../api/types';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { Chart, type ChartSeries } from '../components/dashboard/Chart';
import { shortRunId } from '../flow/run';
import { useNodeTypes } from '../nodeTypes';

function ms(v: number | null): string {
  if (v === null) return '—';
  return v < 1000 ? `${v} ms` : `${(v / 1000).toFixed(1)} s`;
}

/** The runs list filtered to a flow's failed runs of the period (optionally those failing at a node). */
function failedRunsLink(st: Stats, flowId: string, nodeId?: string): string {
  const q = new URLSearchParams({ flow_id: flowId, status: 'failed', since: st.since });
  if (nodeId) q.set('failed_node', nodeId);
  return '/runs?' + q.toString();
}

/** Runs per hour, success rates, p50/p95 durations and the nodes that fail most, per flow. */
export function DashboardPage() {
  const { t, lt } = useI18n();
  const { byType } = useNodeTypes();
  const [period, setPeriod] = useState<StatsWindow>('24h');
  const [flowId, setFlowId] = useState('');
  const [flows, setFlows] = useState<FlowSummary[]>([]);
  const [st, setSt] = useState<Stats | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [tick, setTick] = useState(0);
  useEffect(() => { api.listFlows().then((p) => setFlows(p.items ?? []), () => {}); }, []);
  useEffect(() => {
    let live = true;
    api.stats(period, flowId || undefined).then((s) => { if (live) { setSt(s); setError(null); } }, (e: Error) => live && setError(e.message));
    return () => { live = false; };
  }, [period, flowId, tick]);

  const charts = useMemo(() => {
    if (!st) return null;
    const hours = st.hours.map((h) => new Date(h.hour).getTime() / 1000);
    const n = (c: Record<string, number>, k: string) => c[k] ?? 0;
    const runs: ChartSeries[] = [
      { label: t('dash.series.succeeded'), color: '#2f9e44', values: st.hours.map((h) => n(h.counts, 'succeeded')), bars: true },
      { label: t('dash.series.failed'), color: '#e03131', values: st.hours.map((h) => n(h.counts, 'failed')), bars: true },
      { label: t('dash.series.other'), color: '#868e96', values: st.hours.map((h) => Object.entries(h.counts).filter(([k]) => k !== 'succeeded' && k !== 'failed').reduce((a, [, v]) => a + v, 0)) },
    ];
    const rate: ChartSeries[] = [{
      label: t('dash.series.rate'), color: '#1971c2', points: true,
      values: st.hours.map((h) => {
        const done = n(h.counts, 'succeeded') + n(h.counts, 'failed');
        return done ? Math.round((1000 * n(h.counts, 'succeeded')) / done) / 10 : null;
      }),
    }];
    return { hours, runs, rate };
  }, [st, t]);

  const total = st ? Object.values(st.totals).reduce((a, b) => a + b, 0) : 0;
  return (
    <section className="page dashboard">
      <div className="page-head">
        <h1>{t('dash.heading')}</h1>
        <label className="small">
          {t('dash.window')}{' '}
          <select value={period} onChange={(e) => setPeriod(e.target.value as StatsWindow)}>
            <option value="24h">{t('dash.window.24h')}</option>
            <option value="7d">{t('dash.window.7d')}</option>
          </select>
        </label>
        <label className="small">
          {t('dash.flow')}{' '}
          <select value={flowId} onChange={(e) => setFlowId(e.target.value)}>
            <option value="">{t('dash.allFlows')}</option>
            {flows.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
          </select>
        </label>
        <div className="spacer" />
        <button type="button" onClick={() => setTick((x) => x + 1)}>{t('common.refresh')}</button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {!st && !error && <p className="muted">{t('common.loading')}</p>}
      {st && charts && (
        <>
          <p className="muted" data-testid="dash-totals">
            {t('dash.totals', { runs: total, succeeded: st.totals.succeeded ?? 0, failed: st.totals.failed ?? 0 })}
          </p>
          <div className="charts">
            <Chart title={t('dash.runsPerHour')} hours={charts.hours} series={charts.runs} testId="chart-runs" />
            <Chart title={t('dash.successRate')} hours={charts.hours} series={charts.rate} yMax={100} testId="chart-rate" />
          </div>
          <h2>{t('dash.flows')}</h2>
          {st.flows.length === 0 ? <p className="empty">{t('dash.noRuns')}</p> : (
            <table className="table dash-flows">
              <thead>
                <tr>
                  <th scope="col">{t('dash.col.flow')}</th>
                  <th scope="col">{t('dash.col.runs')}</th>
                  <th scope="col">{t('dash.col.succeeded')}</th>
                  <th scope="col">{t('dash.col.failed')}</th>
                  <th scope="col">{t('dash.col.rate')}</th>
                  <th scope="col">{t('dash.col.p50')}</th>
                  <th scope="col">{t('dash.col.p95')}</th>
                </tr>
              </thead>
              <tbody>
                {st.flows.map((f) => (
                  <tr key={f.flow_id}>
                    <td><Link to={`/flows/${f.flow_id}`}>{f.flow_name || f.flow_id}</Link></td>
                    <td>{f.runs}</td>
                    <td>{f.counts.succeeded ?? 0}</td>
                    <td>{f.counts.failed ? <Link to={failedRunsLink(st, f.flow_id)} className="failed-link">{t('dash.failedRuns', { n: f.counts.failed })}</Link> : 0}</td>
                    <td>{f.success_rate === null ? '—' : `${Math.round(f.success_rate * 1000) / 10}%`}</td>
                    <td>{ms(f.p50_ms)}</td>
                    <td>{ms(f.p95_ms)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <p className="muted small">{st.percentiles === 'sample' ? t('dash.sample', { n: st.sample_size ?? 0 }) : t('dash.exact')}</p>
          <h2>{t('dash.failingNodes')}</h2>
          {st.failing_nodes.length === 0 ? <p className="empty">{t('dash.noFailures')}</p> : (
            <table className="table dash-nodes">
              <thead>
                <tr>
                  <th scope="col">{t('dash.col.flow')}</th>
                  <th scope="col">{t('dash.col.node')}</th>
                  <th scope="col">{t('dash.col.type')}</th>
                  <th scope="col">{t('dash.col.failures')}</th>
                  <th scope="col">{t('dash.col.last')}</th>
                </tr>
              </thead>
              <tbody>
                {st.failing_nodes.map((n) => (
                  <tr key={n.flow_id + '/' + n.node_id}>
                    <td>{n.flow_name || n.flow_id}</td>
                    <td className="mono">{n.node_id}</td>
                    <td className="small">{lt(byType.get(n.node_type)?.title) || n.node_type}</td>
                    <td><Link to={failedRunsLink(st, n.flow_id, n.node_id)} className="failed-link">{t('dash.failedRuns', { n: n.failures })}</Link></td>
                    <td><Link to={`/runs/${n.last_run_id}`} className="mono small">…{shortRunId(n.last_run_id)}</Link></td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      )}
    </section>
  );
}
