import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { authApi, auditQuery, type AuditEntry, type AuditFilter } from '../api/auth';
import { useI18n } from '../i18n';

/** The audit log: who did what, when, from where; filters and a CSV export. */
export function AuditPage() {
  const { t, fmtTime } = useI18n();
  const [filter, setFilter] = useState<AuditFilter>({});
  const [draft, setDraft] = useState<AuditFilter>({});
  const [items, setItems] = useState<AuditEntry[] | null>(null);
  const [next, setNext] = useState('');
  const load = useCallback((f: AuditFilter, cursor = '') => authApi.audit({ ...f, cursor }).then((r) => {
    setItems((prev) => (cursor && prev ? [...prev, ...r.items] : r.items ?? []));
    setNext(r.next_cursor);
  }, () => setItems([])), []);
  useEffect(() => { void load(filter); }, [filter, load]);
  const submit = (e: FormEvent) => { e.preventDefault(); setFilter(draft); };
  const input = (key: keyof AuditFilter, label: string) => (
    <div className="field">
      <label htmlFor={`audit-${key}`}>{label}</label>
      <input id={`audit-${key}`} type="text" value={draft[key] ?? ''} onChange={(e) => setDraft({ ...draft, [key]: e.target.value })} />
    </div>
  );
  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('audit.heading')}</h1>
        <a className="button" href={'/api/v1/audit' + auditQuery(filter, { format: 'csv' })} download>{t('audit.csv')}</a>
      </div>
      <form className="filters" onSubmit={submit} aria-label={t('audit.filter')}>
        {input('actor', t('audit.actor'))}
        {input('action', t('audit.action'))}
        {input('object_id', t('audit.object'))}
        <button type="submit">{t('audit.filter')}</button>
      </form>
      {items?.length === 0 && <p className="empty">{t('audit.none')}</p>}
      {items && items.length > 0 && (
        <table className="table audit">
          <thead><tr><th>{t('audit.at')}</th><th>{t('audit.actor')}</th><th>{t('audit.ip')}</th><th>{t('audit.action')}</th><th>{t('audit.object')}</th><th>{t('audit.diff')}</th></tr></thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id} data-action={a.action}>
                <td>{fmtTime(a.at)}</td>
                <td>{a.actor_name || a.actor_kind}</td>
                <td>{a.ip}</td>
                <td><code>{a.action}</code></td>
                <td>{a.object_type}{a.object_name ? `: ${a.object_name}` : ''}</td>
                <td><code className="small">{a.diff ? JSON.stringify(a.diff) : ''}</code></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && <button type="button" onClick={() => void load(filter, next)}>{t('audit.more')}</button>}
    </section>
  );
}
