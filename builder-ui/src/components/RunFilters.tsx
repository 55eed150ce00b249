import { useI18n, type MessageKey } from '../i18n';

export interface RunFilterState { status: string; since: string; until: string }
const STATUSES = ['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled'];

/** Filters of run lists: status and a time window (local time inputs, sent as RFC 3339). */
export function RunFilters({ value, onChange }: { value: RunFilterState; onChange: (v: RunFilterState) => void }) {
  const { t } = useI18n();
  return (
    <div className="filters">
      <label>
        {t('runs.status')}{' '}
        <select value={value.status} onChange={(e) => onChange({ ...value, status: e.target.value })}>
          <option value="">{t('runs.all')}</option>
          {STATUSES.map((s) => <option key={s} value={s}>{t(`runs.status.${s}` as MessageKey)}</option>)}
        </select>
      </label>
      <label>
        {t('runs.since')}{' '}
        <input type="datetime-local" value={value.since} onChange={(e) => onChange({ ...value, since: e.target.value })} />
      </label>
      <label>
        {t('runs.until')}{' '}
        <input type="datetime-local" value={value.until} onChange={(e) => onChange({ ...value, until: e.target.value })} />
      </label>
    </div>
  );
}

export function toRfc3339(local: string): string | undefined {
  if (!local) return undefined;
  const d = new Date(local);
  return isNaN(d.getTime()) ? undefined : d.toISOString();
}
