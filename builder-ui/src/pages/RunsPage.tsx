import { useCallback, useEffect, useState } from 'react';
import { api } from '../api/client';
import type { FlowSummary, Run } from '../api/types';
import { TERMINAL } from '../api/types';
import { useI18n } from '../i18n';
import { RunsTable } from '../components/RunsTable';
import { RunFilters, toRfc3339, type RunFilterState } from '../components/RunFilters';
import { useRouter } from '../router';
import { fromQuery } from '../components/dashboard/runsQuery';

/** Runs of every flow, filtered by flow, status and time; refreshes while some are unfinished. */
export function RunsPage() {
  const { t } = useI18n();
  // The dashboard links here with flow_id, status, since and failed_node in the query.
  const { search } = useRouter();
  const [initial] = useState(() => fromQuery(search));
  const [filter, setFilter] = useState<RunFilterState>(initial.filter);
  const [flowId, setFlowId] = useState(initial.flowId);
  const [failedNode, setFailedNode] = useState(initial.failedNode);
  const [flows, setFlows] = useState<FlowSummary[]>([]);
  const [runs, setRuns] = useState<Run[] | null>(null);
  const [cursor, setCursor] = useState('');
  const [error, setError] = useState<string | null>(null);
  const query = useCallback((c = '') => api.runs({
    flow_id: flowId, status: filter.status, failed_node: failedNode, since: toRfc3339(filter.since), until: toRfc3339(filter.until), limit: 50, cursor: c,
  }), [filter, flowId, failedNode]);
  const load = useCallback(() => {
    query().then((p) => { setRuns(p.items ?? []); setCursor(p.next_cursor ?? ''); setError(null); }, (e: Error) => setError(e.message));
  }, [query]);
  useEffect(load, [load]);
  useEffect(() => { api.listFlows().then((p) => setFlows(p.items ?? []), () => {}); }, []);
  const unfinished = runs?.some((r) => !TERMINAL.includes(r.status)) ?? false;
  useEffect(() => {
    if (!unfinished) return;
    const h = setInterval(load, 3000);
    return () => clearInterval(h);
  }, [unfinished, load]);
  const more = () => query(cursor).then((p) => { setRuns((r) => [...(r ?? []), ...(p.items ?? [])]); setCursor(p.next_cursor ?? ''); });
  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('runs.heading')}</h1>
        <label className="small">
          {t('runs.col.flow')}{' '}
          <select value={flowId} onChange={(e) => setFlowId(e.target.value)}>
            <option value="">{t('runs.all')}</option>
            {flows.map((f) => <option key={f.id} value={f.id}>{f.name}</option>)}
          </select>
        </label>
        <RunFilters value={filter} onChange={setFilter} />
        {failedNode && (
          <span className="chip" data-testid="failed-node-filter">
            {t('runs.failedNode', { node: failedNode })}
            <button type="button" className="icon" aria-label={t('common.remove')} onClick={() => setFailedNode('')}>×</button>
          </span>
        )}
        <div className="spacer" />
        <button type="button" onClick={load}>{t('common.refresh')}</button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {runs === null && !error ? <p className="muted">{t('common.loading')}</p> : runs && <RunsTable runs={runs} />}
      {cursor && <button type="button" onClick={() => void more()}>{t('common.loadMore')}</button>}
    </section>
  );
}
