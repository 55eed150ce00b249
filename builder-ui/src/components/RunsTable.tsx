import type { Run } from '../api/types';
import { useI18n } from '../i18n';
import { Link } from '../router';
import { StatusBadge } from './StatusBadge';
import { shortRunId } from '../flow/run';

function duration(r: Run): string {
  if (!r.started_at || !r.finished_at) return '—';
  const ms = new Date(r.finished_at).getTime() - new Date(r.started_at).getTime();
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function RunsTable({ runs, showFlow = true }: { runs: Run[]; showFlow?: boolean }) {
  const { t, fmtTime, fmtShort } = useI18n();
  if (!runs.length) return <p className="empty">{t('runs.empty')}</p>;
  return (
    <table className="table runs-table">
      <thead>
        <tr>
          <th scope="col">{t('runs.col.status')}</th>
          {showFlow && <th scope="col">{t('runs.col.flow')}</th>}
          <th scope="col">{t('runs.col.version')}</th>
          <th scope="col">{t('runs.col.started')}</th>
          <th scope="col">{t('runs.col.duration')}</th>
          <th scope="col">{t('runs.col.id')}</th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <td><StatusBadge status={r.status} />{r.dry_run && <span className="badge dry">{t('runs.dry')}</span>}</td>
            {showFlow && <td>{r.flow_name || r.flow_id}</td>}
            <td>v{r.flow_version}</td>
            <td className="small nowrap"><time dateTime={r.created_at} title={fmtTime(r.created_at)}>{fmtShort(r.created_at)}</time></td>
            <td className="small">{duration(r)}</td>
            <td><Link to={`/runs/${r.id}`} className="mono small run-id" title={r.id}>…{shortRunId(r.id)}</Link></td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
