import { useEffect, useMemo, useState, type Dispatch, type SetStateAction } from 'react';
import { api } from '../../api/client';
import type { FlowDoc, VersionInfo } from '../../api/types';
import { diffLines, foldContext, stableJson } from '../../flow/diff';
import { compareDocs, type VersionComparison } from '../../flow/compare';
import { VersionChanges } from './VersionChanges';
import { useI18n } from '../../i18n';
import { useNotify } from '../Toasts';
import { ConfirmDialog } from '../ConfirmDialog';

/**
 * History of a flow's versions (who saved and published each): compare two on the canvas,
 * load one into the editor, roll back.
 */
export function VersionsPanel({ flowId, refreshKey, onLoad, onPublished, comparison, onCompare }: {
  flowId: string | null;
  refreshKey: number;
  onLoad: (doc: FlowDoc) => void;
  onPublished: () => void;
  /** The comparison the canvas shows while this panel is open. */
  comparison: VersionComparison | null;
  onCompare: Dispatch<SetStateAction<VersionComparison | null>>;
}) {
  const { t, fmtTime } = useI18n();
  const notify = useNotify();
  const [versions, setVersions] = useState<VersionInfo[]>([]);
  const [a, setA] = useState(0);
  const [b, setB] = useState(0);
  const [docs, setDocs] = useState<Record<number, FlowDoc>>({});
  const [rollback, setRollback] = useState<number | null>(null);

  useEffect(() => {
    if (!flowId) return;
    api.versions(flowId).then((vs) => {
      const sorted = [...vs].sort((x, y) => y.version - x.version);
      setVersions(sorted);
      if (sorted.length) { setB(sorted[0].version); setA(sorted[Math.min(1, sorted.length - 1)].version); }
    }, (e: Error) => notify(e.message, 'error'));
  }, [flowId, refreshKey, notify]);

  const getDoc = async (v: number): Promise<FlowDoc> => {
    if (docs[v]) return docs[v];
    const full = await api.version(flowId!, v);
    const doc = full.definition!;
    setDocs((d) => ({ ...d, [v]: doc }));
    return doc;
  };

  useEffect(() => {
    if (!flowId || !a || !b) return;
    void getDoc(a).catch(() => {});
    void getDoc(b).catch(() => {});
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [flowId, a, b]);

  const diff = useMemo(() => {
    if (!docs[a] || !docs[b]) return null;
    return diffLines(stableJson(docs[a]), stableJson(docs[b]));
  }, [docs, a, b]);

  // The canvas shows the comparison while this panel is open (keeping the selected node).
  useEffect(() => {
    if (!docs[a] || !docs[b] || a === b) { onCompare(null); return; }
    const diff = compareDocs(docs[a], docs[b]);
    onCompare((c) => ({ from: a, to: b, fromDoc: docs[a], toDoc: docs[b], diff, selected: c && diff.nodes.has(c.selected ?? '') ? c.selected : null }));
  }, [docs, a, b, onCompare]);
  useEffect(() => () => onCompare(null), [onCompare]);

  const doRollback = async (v: number) => {
    setRollback(null);
    try {
      await api.publish(flowId!, v);
      notify(t('versions.rolledBack', { v }));
      onPublished();
    } catch (e) { notify((e as Error).message, 'error'); }
  };

  if (!flowId) return <div className="panel-body"><p className="muted">{t('versions.none')}</p></div>;
  const changed = diff?.some((l) => l.kind !== 'same');
  return (
    <div className="panel-body">
      <h2>{t('versions.heading')}</h2>
      <ul className="versions">
        {versions.map((v) => (
          <li key={v.version} data-version={v.version}>
            <strong>v{v.version}</strong>{' '}
            {v.live ? <span className="badge published">{t('versions.live')}</span>
              : v.published ? <span className="badge">{t('versions.published')}</span>
                : <span className="badge draft">{t('versions.draft')}</span>}
            <div className="muted small version-who">
              {v.created_by ? t('versions.savedBy', { who: v.created_by, t: fmtTime(v.created_at) }) : t('versions.created', { t: fmtTime(v.created_at) })}
              {v.published && v.published_by && <><br />{t('versions.publishedBy', { who: v.published_by })}</>}
            </div>
            <div className="row">
              <button type="button" className="small" onClick={() => void getDoc(v.version).then(onLoad)}>{t('versions.load')}</button>
              {!v.live && (
                <button type="button" className="small" onClick={() => setRollback(v.version)}>{t('versions.rollback')}</button>
              )}
            </div>
          </li>
        ))}
      </ul>
      {versions.length > 1 && (
        <>
          <h3>{t('versions.diff')}</h3>
          <div className="row">
            <label>{t('versions.diffA')}{' '}
              <select value={a} onChange={(e) => setA(Number(e.target.value))}>
                {versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
              </select>
            </label>
            <label>{t('versions.diffB')}{' '}
              <select value={b} onChange={(e) => setB(Number(e.target.value))}>
                {versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
              </select>
            </label>
          </div>
          {diff && !changed && <p className="muted">{t('versions.noDiff')}</p>}
          {comparison && <VersionChanges comparison={comparison} onSelect={(id) => onCompare((c) => c && { ...c, selected: id })} />}
          {diff && changed && (
            <details className="diff-json">
              <summary>{t('compare.json')}</summary>
              <pre className="diff" aria-label={t('versions.diff')}>
                {foldContext(diff).map((l, i) => (l.kind === 'skip'
                  ? <div key={i} className="diff-skip">{t('versions.unchanged', { n: l.count })}</div>
                  : <div key={i} className={`diff-${l.kind}`}>{l.kind === 'add' ? '+ ' : l.kind === 'del' ? '- ' : '  '}{l.text}</div>
                ))}
              </pre>
            </details>
          )}
        </>
      )}
      {rollback !== null && (
        <ConfirmDialog
          message={t('versions.rollbackConfirm', { v: rollback })}
          confirmLabel={t('versions.rollback')}
          onConfirm={() => void doRollback(rollback)}
          onCancel={() => setRollback(null)}
        />
      )}
    </div>
  );
}
