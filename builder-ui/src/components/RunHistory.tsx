import type { Run } from '../api/types';
import { useI18n, type MessageKey } from '../i18n';

const LABEL: Record<string, MessageKey> = {
  'run.started_manually': 'run.startedBy',
  'run.retried': 'run.retriedBy',
  'run.cancelled': 'run.cancelledBy',
};

/** Who started, retried or cancelled a run (the API's history); a run nobody started by hand was started by its event. */
export function RunHistory({ run }: { run: Run }) {
  const { t, fmtTime } = useI18n();
  const items = run.history ?? [];
  const byHand = items.some((h) => h.action === 'run.started_manually');
  return (
    <ul className="run-history" data-testid="run-history">
      {!byHand && <li>{t('run.byEvent')} <span className="muted small">· {fmtTime(run.created_at)}</span></li>}
      {items.map((h, i) => (
        <li key={i} data-action={h.action}>
          {LABEL[h.action] ? t(LABEL[h.action], { who: h.actor }) : `${h.action}: ${h.actor}`}{' '}
          <span className="muted small">· {fmtTime(h.at)}</span>
        </li>
      ))}
    </ul>
  );
}
