import { useCallback, useEffect, useState } from 'react';
import { api } from '../../api/client';
import type { Run } from '../../api/types';
import { useI18n } from '../../i18n';
import { RunsTable } from '../RunsTable';
import { RunFilters, toRfc3339, type RunFilterState } from '../RunFilters';

export function FlowRunsPanel({ flowId }: { flowId: string | null }) {
  const { t } = useI18n();
  const [filter, setFilter] = useState<RunFilterState>({ status: '', since: '', until: '' });
  const [runs, setRuns] = useState<Run[] | null>(null);
  const load = useCallback(() => {
    if (!flowId) return;
    api.runs({ flow_id: flowId, status: filter.status, since: toRfc3339(filter.since), until: toRfc3339(filter.until), limit: 50 })
      .then((p) => setRuns(p.items ?? []), () => setRuns([]));
  }, [flowId, filter]);
  useEffect(load, [load]);
  if (!flowId) return <div className="panel-body"><p className="muted">{t('versions.none')}</p></div>;
  return (
    <div className="panel-body">
      <h2>{t('runs.flowHeading')}</h2>
      <RunFilters value={filter} onChange={setFilter} />
      <button type="button" className="small" onClick={load}>{t('common.refresh')}</button>
      {runs === null ? <p className="muted">{t('common.loading')}</p> : <RunsTable runs={runs} showFlow={false} />}
    </div>
  );
}
