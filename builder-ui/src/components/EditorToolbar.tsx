import type { FlowSummary } from '../api/types';
import { useI18n } from '../i18n';
import { Link } from '../router';

export interface EditorToolbarProps {
  name: string;
  onName: (n: string) => void;
  isNew: boolean;
  dirty: boolean;
  summary: Pick<FlowSummary, 'latest_version' | 'published_version' | 'enabled'> | null;
  validating: boolean;
  problemCount: number | null;
  canUndo: boolean;
  canRedo: boolean;
  busy: boolean;
  publishBlocked: string | null;
  onUndo: () => void;
  onRedo: () => void;
  onLayout: () => void;
  onExport: () => void;
  onSave: () => void;
  onPublish: () => void;
  onShowProblems: () => void;
}

export function EditorToolbar(p: EditorToolbarProps) {
  const { t } = useI18n();
  const state = p.isNew ? t('editor.new') : p.dirty ? t('editor.unsaved') : t('editor.allSaved');
  return (
    <div className="toolbar editor-toolbar" role="toolbar" aria-label={t('editor.toolbar')}>
      <Link to="/flows" className="back" aria-label={t('common.back')}>←</Link>
      <input
        className="flow-name"
        aria-label={t('editor.name')}
        value={p.name}
        onChange={(e) => p.onName(e.target.value)}
      />
      <span className={`save-state ${p.dirty ? 'dirty' : ''}`} role="status">{state}</span>
      {p.summary && (
        <span className="muted small version-info">
          {t('editor.version', { v: p.summary.latest_version })}
          {p.summary.published_version > 0 && <> · {t('editor.live', { v: p.summary.published_version })}</>}
        </span>
      )}
      <button
        type="button"
        className={`validity ${p.problemCount ? 'bad' : p.problemCount === 0 ? 'good' : ''}`}
        onClick={p.onShowProblems}
        aria-live="polite"
      >
        {p.validating || p.problemCount === null ? t('editor.validating')
          : p.problemCount ? `⚠ ${t('editor.problems', { n: p.problemCount })}` : `✓ ${t('editor.valid')}`}
      </button>
      <div className="spacer" />
      <button type="button" className="icon" onClick={p.onUndo} disabled={!p.canUndo} title={t('editor.undo')} aria-label={t('editor.undo')}>↶</button>
      <button type="button" className="icon" onClick={p.onRedo} disabled={!p.canRedo} title={t('editor.redo')} aria-label={t('editor.redo')}>↷</button>
      <button type="button" onClick={p.onLayout}>{t('editor.layout')}</button>
      <button type="button" onClick={p.onExport}>{t('editor.export')}</button>
      <button type="button" onClick={p.onSave} disabled={p.busy || (!p.dirty && !p.isNew)}>{t('editor.save')}</button>
      <button
        type="button"
        className="primary"
        onClick={p.onPublish}
        disabled={p.busy || !!p.publishBlocked}
        aria-describedby={p.publishBlocked ? 'publish-blocked' : undefined}
        title={p.publishBlocked ?? undefined}
      >
        {t('editor.publish')}
      </button>
      {p.publishBlocked && <span id="publish-blocked" className="blocked small">{p.publishBlocked}</span>}
    </div>
  );
}
