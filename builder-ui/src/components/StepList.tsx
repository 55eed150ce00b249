import type { Step } from '../api/types';
import { useI18n } from '../i18n';
import { useNodeTypes } from '../nodeTypes';
import { StatusBadge } from './StatusBadge';

function Json({ value }: { value: unknown }) {
  return <pre className="json">{value === undefined || value === null ? '—' : JSON.stringify(value, null, 2)}</pre>;
}

/** The steps of a run, in order, each with input, output, duration and error. */
export function StepList({ steps, onFocusNode, openNode }: { steps: Step[]; onFocusNode?: (id: string) => void; openNode?: string | null }) {
  const { t, lt, portLabel } = useI18n();
  const { byType } = useNodeTypes();
  if (!steps.length) return <p className="muted">{t('run.noSteps')}</p>;
  return (
    <ol className="steps" aria-label={t('run.steps')}>
      {steps.map((s, i) => (
        <li key={`${s.node_id}-${s.attempt}-${i}`} className={`step step-${s.status}`} data-step-node={s.node_id}>
          <details open={s.status === 'failed' || s.node_id === openNode || undefined} key={openNode === s.node_id ? 'open' : 'closed'}>
            <summary>
              <StatusBadge status={s.status} />{' '}
              <strong>{s.node_id}</strong>{' '}
              <span className="muted small">{lt(byType.get(s.node_type)?.title) || s.node_type}</span>{' '}
              {s.port && s.port !== 'out' && <span className="small">{t('run.port', { port: portLabel(s.port) })}</span>}{' '}
              <span className="muted small">{t('run.duration', { ms: s.duration_ms })}</span>
              {s.attempt > 1 && <span className="muted small"> · {t('run.attempt', { n: s.attempt })}</span>}
            </summary>
            {onFocusNode && <button type="button" className="small link" onClick={() => onFocusNode(s.node_id)}>{t('common.open')}</button>}
            {s.error && <div className="field-error" role="note"><strong>{t('run.error')}:</strong> {s.error}</div>}
            <div className="io">
              <div><h4>{t('run.input')}</h4><Json value={s.input} /></div>
              <div><h4>{t('run.output')}</h4><Json value={s.output} /></div>
            </div>
          </details>
        </li>
      ))}
    </ol>
  );
}
