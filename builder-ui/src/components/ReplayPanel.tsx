import { useCallback, useEffect, useRef, useState } from 'react';
import { ApiError, api } from '../api/client';
import { replayApi, type Replay, type ReplayResult, type ReplaySelection } from '../api/replay';
import { changeText, outcomeText, pathMarks, pathText, summaryLine, hasChanges } from '../flow/replay';
import type { StepMark } from '../flow/run';
import { useI18n } from '../i18n';
import type { MessageKey } from '../i18n';
import { StatusBadge } from './StatusBadge';

type Kind = 'last' | 'since' | 'ids';

/**
 * "Replay on recorded events" in the Test run tab: runs the draft (or a version) over events the
 * flow really received, without side effects, and shows how each would have gone differently.
 * Opening an event shows its old and new path on the canvas (onMarks).
 */
export function ReplayPanel({ flowId, latestVersion, publishedVersion, ensureSaved, onMarks }: {
  flowId: string | null;
  latestVersion?: number;
  publishedVersion?: number;
  /** Saves unsaved edits first, so the draft replayed is what is on the canvas. */
  ensureSaved: () => Promise<string | null>;
  onMarks: (marks: Map<string, StepMark> | null) => void;
}) {
  const { t } = useI18n();
  const [version, setVersion] = useState<string>('draft');
  const [kind, setKind] = useState<Kind>('last');
  const [last, setLast] = useState(100);
  const [since, setSince] = useState('7d');
  const [ids, setIds] = useState('');
  const [replay, setReplay] = useState<Replay | null>(null);
  const [results, setResults] = useState<ReplayResult[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [filter, setFilter] = useState('');
  const [open, setOpen] = useState<ReplayResult | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);
  const alive = useRef(true);
  useEffect(() => { alive.current = true; return () => { alive.current = false; }; }, []);
  // Leaving the tab takes the event's paths off the canvas.
  useEffect(() => () => onMarks(null), []); // eslint-disable-line react-hooks/exhaustive-deps

  const running = replay?.status === 'queued' || replay?.status === 'running';

  // The flow's latest replay is shown again when the tab opens.
  useEffect(() => {
    if (!flowId) return;
    replayApi.list(flowId, 1).then((items) => { if (alive.current && items[0]) setReplay(items[0]); }, () => {});
  }, [flowId]);

  // Progress while it runs.
  useEffect(() => {
    if (!replay || !running) return;
    const h = setTimeout(() => {
      replayApi.get(replay.id).then((r) => { if (alive.current) setReplay(r); }, (e: ApiError) => setError(e.message));
    }, 400);
    return () => clearTimeout(h);
  }, [replay, running]);

  const loadResults = useCallback(async (id: string, cursor = '', outcome = '') => {
    try {
      const page = await replayApi.results(id, cursor, outcome);
      if (!alive.current) return;
      setResults((rs) => (cursor ? [...rs, ...page.items] : page.items));
      setNext(page.next_cursor);
    } catch (e) { setError((e as Error).message); }
  }, []);

  useEffect(() => {
    if (replay && !running) void loadResults(replay.id, '', filter);
  }, [replay?.id, running, filter, loadResults]); // eslint-disable-line react-hooks/exhaustive-deps

  const start = async () => {
    setError(null);
    setStarting(true);
    try {
      const id = await ensureSaved();
      if (!id) return;
      const sel: ReplaySelection = kind === 'last' ? { last } : kind === 'since' ? { since } : { event_ids: ids.split(/[\s,]+/).filter(Boolean) };
      const r = await replayApi.start(id, version === 'draft' ? 'draft' : Number(version), sel);
      if (!alive.current) return;
      setResults([]);
      setOpen(null);
      setFilter('');
      onMarks(null);
      setReplay(r);
    } catch (e) {
      setError((e as Error).message);
    } finally {
      if (alive.current) setStarting(false);
    }
  };

  const cancel = async () => {
    if (!replay) return;
    try { setReplay(await replayApi.cancel(replay.id)); } catch (e) { setError((e as Error).message); }
  };

  const show = (r: ReplayResult | null) => {
    setOpen(r);
    onMarks(r ? pathMarks(r.old_path, r.new_path) : null);
  };

  const versions = Array.from({ length: latestVersion ?? 0 }, (_, i) => (latestVersion ?? 0) - i);
  const max = Math.max(1, ...(replay?.summary ?? []).map((o) => o.count));

  return (
    <section className="panel-body replay" aria-labelledby="replay-heading">
      <h2 id="replay-heading">{t('replay.heading')}</h2>
      <p className="muted small">{t('replay.intro')}</p>
      <div className="field">
        <label htmlFor="replay-version">{t('replay.version')}</label>
        <select id="replay-version" value={version} onChange={(e) => setVersion(e.target.value)}>
          <option value="draft">{t('replay.draft')}</option>
          {versions.map((v) => (
            <option key={v} value={String(v)}>{v === publishedVersion ? t('replay.versionLive', { v }) : t('replay.versionN', { v })}</option>
          ))}
        </select>
      </div>
      <div className="field">
        <label htmlFor="replay-kind">{t('replay.events')}</label>
        <select id="replay-kind" value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
          <option value="last">{t('replay.kind.last')}</option>
          <option value="since">{t('replay.kind.since')}</option>
          <option value="ids">{t('replay.kind.ids')}</option>
        </select>
        {kind === 'last' && (
          <input aria-label={t('replay.kind.last')} type="number" min={1} max={10000} value={last} onChange={(e) => setLast(Number(e.target.value))} />
        )}
        {kind === 'since' && (
          <input aria-label={t('replay.kind.since')} value={since} placeholder="7d" onChange={(e) => setSince(e.target.value)} />
        )}
        {kind === 'ids' && (
          <textarea aria-label={t('replay.kind.ids')} className="mono" rows={3} value={ids} onChange={(e) => setIds(e.target.value)} />
        )}
      </div>
      <div className="row">
        <button type="button" className="primary" disabled={!flowId || starting || running} onClick={() => void start()}>
          {running ? t('replay.running') : t('replay.start')}
        </button>
        {running && <button type="button" onClick={() => void cancel()}>{t('replay.cancel')}</button>}
      </div>
      {!flowId && <p className="muted small" role="note">{t('replay.needsSave')}</p>}
      {error && <div className="field-error" role="alert">{error}</div>}

      {replay && (
        <div className="replay-result" data-replay-status={replay.status}>
          <div className="replay-status">
            <StatusBadge status={replay.status} />{' '}
            <span className="small">{replay.draft ? t('replay.ofDraft', { v: replay.version }) : t('replay.versionN', { v: replay.version })}</span>
          </div>
          <progress className="replay-progress" max={Math.max(replay.total, 1)} value={replay.total ? replay.done : 1}
            aria-label={t('replay.progress', { done: replay.done, total: replay.total })} />
          <div className="small muted">{t('replay.progress', { done: replay.done, total: replay.total })}</div>
          {replay.error && <div className="field-error">{replay.error}</div>}
          {replay.failing > 0 && <div className="field-error" role="status">{t('replay.failing', { n: replay.failing })}</div>}
          {replay.summary.length > 0 && (
            <ul className="replay-chart" aria-label={t('replay.summary')}>
              {replay.summary.map((o) => (
                <li key={o.outcome} data-outcome={o.outcome} className={o.outcome === 'unchanged' ? 'same' : o.changes.some((c) => c.code === 'now_fails' || c.code === 'credential_missing') ? 'fails' : 'changed'}>
                  <button type="button" className="link replay-outcome" aria-pressed={filter === o.outcome}
                    onClick={() => setFilter(filter === o.outcome ? '' : o.outcome)}>
                    {outcomeText(t, o.changes)}
                  </button>
                  <span className="replay-bar" style={{ width: `${Math.max(2, (o.count / max) * 100)}%` }} />
                  <span className="replay-count">{o.count}</span>
                </li>
              ))}
            </ul>
          )}
          {!running && replay.summary.length > 0 && <p className="small replay-line">{summaryLine(t, replay)}</p>}
          {results.length > 0 && (
            <table className="replay-table">
              <thead><tr><th>{t('replay.event')}</th><th>{t('replay.outcome')}</th></tr></thead>
              <tbody>
                {results.map((r) => (
                  <tr key={r.event_id} data-event-id={r.event_id} className={open?.event_id === r.event_id ? 'selected' : ''}>
                    <td className="mono"><button type="button" className="link" onClick={() => show(open?.event_id === r.event_id ? null : r)}>{r.event_id.slice(-8)}</button></td>
                    <td>{outcomeText(t, r.changes)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {next && <button type="button" className="small" onClick={() => void loadResults(replay.id, next, filter)}>{t('common.loadMore')}</button>}
          {open && <ReplayEvent result={open} onClose={() => show(null)} />}
        </div>
      )}
    </section>
  );
}

/** One event: old and new path side by side, its changes with field diffs, and what would be sent. */
function ReplayEvent({ result, onClose }: { result: ReplayResult; onClose: () => void }) {
  const { t } = useI18n();
  return (
    <div className="replay-event" aria-label={t('replay.eventDetail')}>
      <div className="row">
        <strong className="mono">{result.event_id}</strong>
        <button type="button" className="small" onClick={onClose}>{t('common.close')}</button>
      </div>
      <p className="small muted">{t('replay.canvasLegend')}</p>
      <div className="replay-paths">
        <div><h4>{t('replay.oldPath')}</h4><p className="mono small" data-testid="replay-old-path">{pathText(result.old_path) || '—'}</p>
          {result.old_error && <div className="field-error small">{result.old_error}</div>}</div>
        <div><h4>{t('replay.newPath')}</h4><p className="mono small" data-testid="replay-new-path">{pathText(result.new_path)}</p>
          {result.new_error && <div className="field-error small">{result.new_error}</div>}</div>
      </div>
      <ul className="replay-changes">
        {result.changes.map((c, i) => (
          <li key={i}>
            {changeText(t, c)}
            {c.fields && (
              <table className="small">
                <tbody>
                  {c.fields.map((f) => (
                    <tr key={f.field}><td className="mono">{f.field}</td><td className="diff-del mono">{JSON.stringify(f.old)}</td><td className="diff-add mono">{JSON.stringify(f.new)}</td></tr>
                  ))}
                </tbody>
              </table>
            )}
          </li>
        ))}
      </ul>
      {result.requests.length > 0 && (
        <>
          <h4>{t('replay.requests')}</h4>
          {result.requests.map((r, i) => (
            <details key={i} className="replay-request">
              <summary className="mono small">{r.node_id}: {r.method} {r.url}</summary>
              <pre className="mono small">{Object.entries(r.headers ?? {}).map(([k, v]) => `${k}: ${v}`).join('\n')}{'\n\n'}{r.body}</pre>
            </details>
          ))}
        </>
      )}
    </div>
  );
}

/**
 * Before publishing: the summary of the latest finished replay of the version about to go live, if
 * it found changes (null otherwise), for the confirmation.
 */
export async function replayChangesOf(flowId: string, t: (key: MessageKey, vars?: Record<string, string | number>) => string): Promise<string | null> {
  try {
    const [flow, replays] = await Promise.all([api.getFlow(flowId), replayApi.list(flowId, 10)]);
    const r = replays.find((x) => x.version === flow.latest_version && x.status === 'succeeded');
    return r && hasChanges(r) ? summaryLine(t, r) : null;
  } catch {
    return null; // no replay to go by: publishing asks nothing more
  }
}
