import { useEffect, useState } from 'react';
import { api } from '../../api/client';
import type { EventItem, Run } from '../../api/types';
import { useI18n } from '../../i18n';
import { Link } from '../../router';
import { StatusBadge } from '../StatusBadge';
import { StepList } from '../StepList';

/** Runs the draft with sample data and shows the steps; the canvas highlights the path. */
export function TestRunPanel({ flowId, triggerSample, blockedReason, run, busy, onRun, onClear, onFocusNode }: {
  flowId: string | null;
  triggerSample: unknown;
  blockedReason: string | null;
  run: Run | null;
  busy: boolean;
  onRun: (data: unknown, dryRun: boolean) => void;
  onClear: () => void;
  onFocusNode: (id: string) => void;
}) {
  const { t, fmtTime } = useI18n();
  const [text, setText] = useState(() => JSON.stringify(triggerSample ?? {}, null, 2));
  const [dry, setDry] = useState(true);
  const [events, setEvents] = useState<EventItem[]>([]);
  let parseError: string | null = null;
  let data: unknown = null;
  try { data = text.trim() ? JSON.parse(text) : {}; } catch (e) { parseError = (e as Error).message; }

  useEffect(() => {
    if (flowId) api.events(flowId, 20).then(setEvents, () => setEvents([]));
  }, [flowId, run?.id]);

  return (
    <div className="panel-body">
      <h2>{t('test.heading')}</h2>
      <div className="field">
        <label htmlFor="test-recent">{t('test.recent')}</label>
        <select
          id="test-recent"
          value=""
          onChange={(e) => {
            const ev = events.find((x) => x.id === e.target.value);
            if (ev) setText(JSON.stringify(ev.data ?? {}, null, 2));
          }}
        >
          <option value="">{events.length ? t('common.choose') : t('test.recentNone')}</option>
          {events.map((ev) => <option key={ev.id} value={ev.id}>{ev.type} · {fmtTime(ev.created_at)}</option>)}
        </select>
        <button type="button" className="small link" onClick={() => setText(JSON.stringify(triggerSample ?? {}, null, 2))}>{t('test.fromTrigger')}</button>
      </div>
      <div className={`field ${parseError ? 'invalid' : ''}`}>
        <label htmlFor="test-data">{t('test.sample')}</label>
        <textarea id="test-data" className="mono" rows={8} value={text} spellCheck={false}
          aria-invalid={!!parseError || undefined} onChange={(e) => setText(e.target.value)} />
        {parseError && <div className="field-error" role="alert">{t('panel.invalidJson', { msg: parseError })}</div>}
      </div>
      <label className="check">
        <input type="checkbox" checked={dry} onChange={(e) => setDry(e.target.checked)} /> {t('test.dryRun')}
      </label>
      <div className="row">
        <button
          type="button"
          className="primary"
          disabled={busy || !!parseError || !!blockedReason}
          onClick={() => onRun(data, dry)}
        >
          {busy ? t('test.running') : t('test.run')}
        </button>
        {run && <button type="button" onClick={onClear}>{t('test.clear')}</button>}
      </div>
      {blockedReason && <p className="muted small" role="note">{blockedReason}</p>}
      {!blockedReason && <p className="muted small">{t('test.needsSave')}</p>}
      {run && (
        <section className="test-result" aria-label={t('test.result')}>
          <h3>{t('test.result')}: <StatusBadge status={run.status} /></h3>
          {run.error && <div className="field-error">{run.error}</div>}
          <Link to={`/runs/${run.id}`}>{t('test.openRun')}</Link>
          <StepList steps={run.steps ?? []} onFocusNode={onFocusNode} />
        </section>
      )}
    </div>
  );
}
