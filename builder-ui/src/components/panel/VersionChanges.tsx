import type { VersionComparison } from '../../flow/compare';
import { useI18n } from '../../i18n';
import { useNodeTypes } from '../../nodeTypes';

/** What changed between two versions: counts, the changed nodes, and the selected node's fields before and after. */
export function VersionChanges({ comparison: c, onSelect }: { comparison: VersionComparison; onSelect: (id: string) => void }) {
  const { t, lt } = useI18n();
  const { byType } = useNodeTypes();
  const count = (k: string) => [...c.diff.nodes.values()].filter((x) => x === k).length;
  const selected = c.selected;
  const kind = selected ? c.diff.nodes.get(selected) : undefined;
  const node = selected ? (c.toDoc.nodes.find((n) => n.id === selected) ?? c.fromDoc.nodes.find((n) => n.id === selected)) : undefined;
  const spec = byType.get(node?.type ?? '');
  const fieldTitle = (f: string) => {
    if (f === 'name') return t('panel.nodeName');
    if (f === 'type') return t('compare.type');
    const name = f.replace(/^config\./, '');
    return lt(spec?.fields.find((x) => x.name === name)?.title) || name;
  };
  const show = (v: unknown) => (v === undefined || v === null || v === ''
    ? <span className="muted">{t('compare.unset')}</span>
    : <span className="mono">{typeof v === 'string' ? v : JSON.stringify(v)}</span>);

  return (
    <div className="version-changes">
      <p className="small" data-testid="compare-summary">
        {t('compare.summary', { added: count('added'), removed: count('removed'), changed: count('changed'), edges: c.diff.edges.size })}
      </p>
      {c.diff.nodes.size > 0 && (
        <ul className="change-list">
          {[...c.diff.nodes].map(([id, k]) => (
            <li key={id}>
              <button type="button" className="link" aria-pressed={id === selected} onClick={() => onSelect(id)}>{id}</button>{' '}
              <span className={`badge change-${k}`}>{t(`compare.${k}`)}</span>
            </li>
          ))}
        </ul>
      )}
      {!selected && c.diff.nodes.size > 0 && <p className="muted small">{t('compare.pick')}</p>}
      {selected && kind === 'added' && <p className="small">{selected}: {t('compare.nodeAdded', { v: c.to })}</p>}
      {selected && kind === 'removed' && <p className="small">{selected}: {t('compare.nodeRemoved', { v: c.to })}</p>}
      {selected && kind === 'changed' && (
        <table className="field-changes" aria-label={selected}>
          <thead>
            <tr><th>{t('compare.field')}</th><th>{t('compare.before', { v: c.from })}</th><th>{t('compare.after', { v: c.to })}</th></tr>
          </thead>
          <tbody>
            {(c.diff.fields.get(selected) ?? []).map((f) => (
              <tr key={f.field} data-field-change={f.field}>
                <th scope="row">{fieldTitle(f.field)}</th>
                <td className="before">{show(f.before)}</td>
                <td className="after">{show(f.after)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
