import { useCallback, useEffect, useRef, useState, type ChangeEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { FlowSummary } from '../api/types';
import { useI18n } from '../i18n';
import { Link, useRouter } from '../router';
import { useNotify } from '../components/Toasts';
import { ConfirmDialog } from '../components/ConfirmDialog';
import { StatusBadge } from '../components/StatusBadge';
import { useNodeTypes } from '../nodeTypes';
import { parseImportedFlow } from '../flow/model';

export function FlowListPage() {
  const { t, lt, fmtTime } = useI18n();
  const { navigate } = useRouter();
  const notify = useNotify();
  const { byType } = useNodeTypes();
  const [q, setQ] = useState('');
  const [flows, setFlows] = useState<FlowSummary[] | null>(null);
  const [cursor, setCursor] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [toDelete, setToDelete] = useState<FlowSummary | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  const load = useCallback(async (query: string) => {
    try {
      const page = await api.listFlows(query);
      setFlows(page.items ?? []);
      setCursor(page.next_cursor ?? '');
      setError(null);
    } catch (e) {
      setError((e as Error).message);
    }
  }, []);

  useEffect(() => {
    const h = setTimeout(() => void load(q), q ? 250 : 0);
    return () => clearTimeout(h);
  }, [q, load]);

  const loadMore = async () => {
    const page = await api.listFlows(q, cursor);
    setFlows((f) => [...(f ?? []), ...(page.items ?? [])]);
    setCursor(page.next_cursor ?? '');
  };

  const toggle = async (f: FlowSummary) => {
    try {
      await api.setEnabled(f.id, !f.enabled);
      setFlows((list) => list?.map((x) => (x.id === f.id ? { ...x, enabled: !f.enabled } : x)) ?? null);
    } catch (e) { notify((e as Error).message, 'error'); }
  };

  const duplicate = async (f: FlowSummary) => {
    try {
      const full = await api.getFlow(f.id);
      const doc = { ...full.definition, name: t('flows.copyName', { name: full.name }) };
      await api.createFlow(doc);
      notify(t('flows.duplicated'));
      await load(q);
    } catch (e) { notify((e as Error).message, 'error'); }
  };

  const remove = async (f: FlowSummary) => {
    setToDelete(null);
    try {
      await api.deleteFlow(f.id);
      notify(t('flows.deleted'));
      setFlows((list) => list?.filter((x) => x.id !== f.id) ?? null);
    } catch (e) { notify((e as Error).message, 'error'); }
  };

  const onImport = async (e: ChangeEvent<HTMLInputElement>) => {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    try {
      const doc = parseImportedFlow(await file.text());
      navigate('/flows/new', { doc });
    } catch (err) {
      notify(t('flows.importFailed', { msg: err instanceof ApiError ? err.message : (err as Error).message }), 'error');
    }
  };

  const status = (f: FlowSummary) => {
    if (!f.published_version) return <span className="badge draft">{t('flows.status.draft')}</span>;
    if (f.latest_version > f.published_version)
      return <span className="badge changed">{t('flows.status.changed', { v: f.published_version, d: f.latest_version })}</span>;
    return <span className="badge published">{t('flows.status.published', { v: f.published_version })}</span>;
  };

  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('flows.heading')}</h1>
        <input
          type="search"
          className="search"
          placeholder={t('flows.search')}
          aria-label={t('flows.search')}
          value={q}
          onChange={(e) => setQ(e.target.value)}
        />
        <div className="spacer" />
        <button type="button" onClick={() => fileRef.current?.click()}>{t('flows.import')}</button>
        <input ref={fileRef} type="file" accept="application/json,.json" hidden onChange={onImport} data-testid="import-file" />
        <button type="button" className="primary" onClick={() => navigate('/flows/new')}>{t('flows.new')}</button>
      </div>
      {error && <p className="error" role="alert">{error}</p>}
      {flows === null && !error && <p className="muted">{t('common.loading')}</p>}
      {flows?.length === 0 && <p className="empty">{q ? t('flows.noMatch') : t('flows.empty')}</p>}
      {flows && flows.length > 0 && (
        <table className="table">
          <thead>
            <tr>
              <th scope="col">{t('flows.col.name')}</th>
              <th scope="col">{t('flows.col.trigger')}</th>
              <th scope="col">{t('flows.col.status')}</th>
              <th scope="col">{t('flows.col.lastRun')}</th>
              <th scope="col">{t('flows.col.updated')}</th>
              <th scope="col">{t('flows.col.enabled')}</th>
              <th scope="col">{t('flows.col.actions')}</th>
            </tr>
          </thead>
          <tbody>
            {flows.map((f) => (
              <tr key={f.id}>
                <td>
                  <Link to={`/flows/${f.id}`} className="flow-link">{f.name || t('flows.untitled')}</Link>
                  {f.description && <div className="muted small">{f.description}</div>}
                </td>
                <td>
                  {f.trigger_type ? lt(byType.get(f.trigger_type)?.title) || f.trigger_type : '—'}
                  {f.event_type && <div className="muted small mono">{f.event_type}</div>}
                </td>
                <td>{status(f)}</td>
                <td>
                  {f.last_run ? (
                    <Link to={`/runs/${f.last_run.id}`} className="plain">
                      <StatusBadge status={f.last_run.status} /> <span className="muted small">{fmtTime(f.last_run.created_at)}</span>
                    </Link>
                  ) : <span className="muted">{t('common.never')}</span>}
                </td>
                <td className="small">{fmtTime(f.updated_at)}</td>
                <td>
                  <label className="switch">
                    <input
                      type="checkbox"
                      role="switch"
                      checked={f.enabled}
                      aria-checked={f.enabled}
                      aria-label={t('flows.enable', { name: f.name })}
                      onChange={() => void toggle(f)}
                    />
                    <span aria-hidden="true" />
                  </label>
                </td>
                <td>
                  <div className="actions">
                    <button type="button" onClick={() => void duplicate(f)} aria-label={`${t('flows.duplicate')}: ${f.name}`}>{t('flows.duplicate')}</button>
                    <button type="button" className="danger" onClick={() => setToDelete(f)} aria-label={`${t('common.delete')}: ${f.name}`}>{t('common.delete')}</button>
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {cursor && <button type="button" onClick={() => void loadMore()}>{t('common.loadMore')}</button>}
      {toDelete && (
        <ConfirmDialog
          danger
          message={t('flows.confirmDelete', { name: toDelete.name })}
          confirmLabel={t('common.delete')}
          onConfirm={() => void remove(toDelete)}
          onCancel={() => setToDelete(null)}
        />
      )}
    </section>
  );
}
