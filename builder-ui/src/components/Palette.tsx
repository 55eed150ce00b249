import { useMemo, useState, type DragEvent } from 'react';
import type { NodeSpec } from '../api/types';
import { useI18n, type MessageKey } from '../i18n';
import { useNodeTypes } from '../nodeTypes';
import { DND_MIME } from './canvas/FlowCanvas';
import { NodeIcon } from './canvas/icons';

const ORDER = ['trigger', 'logic', 'action'];

/** The node palette, built only from GET /node-types and grouped by category. */
export function Palette({ onAdd }: { onAdd: (type: string) => void }) {
  const { t, lt } = useI18n();
  const { specs, error, loading } = useNodeTypes();
  const [filter, setFilter] = useState('');

  const groups = useMemo(() => {
    const f = filter.trim().toLowerCase();
    const match = (s: NodeSpec) =>
      !f || s.type.toLowerCase().includes(f) || lt(s.title).toLowerCase().includes(f) || lt(s.description).toLowerCase().includes(f);
    const cats = [...ORDER, ...new Set(specs.map((s) => s.category).filter((c) => !ORDER.includes(c)))];
    return cats
      .map((cat) => ({ cat, items: specs.filter((s) => s.category === cat && match(s)) }))
      .filter((g) => g.items.length > 0);
  }, [specs, filter, lt]);

  const catLabel = (c: string) => (ORDER.includes(c) ? t(`palette.cat.${c}` as MessageKey) : c || t('palette.cat.other'));

  const onDragStart = (e: DragEvent, type: string) => {
    e.dataTransfer.setData(DND_MIME, type);
    e.dataTransfer.setData('text/plain', type);
    e.dataTransfer.effectAllowed = 'copy';
  };

  return (
    <aside className="palette" aria-label={t('palette.heading')}>
      <h2>{t('palette.heading')}</h2>
      <input
        type="search"
        placeholder={t('palette.search')}
        aria-label={t('palette.search')}
        value={filter}
        onChange={(e) => setFilter(e.target.value)}
      />
      {loading && <p className="muted">{t('common.loading')}</p>}
      {error && <p className="error" role="alert">{t('palette.failed', { msg: error })}</p>}
      {groups.map((g) => (
        <section key={g.cat} className="palette-group" aria-label={catLabel(g.cat)}>
          <h3>{catLabel(g.cat)}</h3>
          <ul>
            {g.items.map((s) => (
              <li key={s.type}>
                <button
                  type="button"
                  className={`palette-item cat-${s.category}`}
                  draggable
                  data-node-type={s.type}
                  onDragStart={(e) => onDragStart(e, s.type)}
                  onClick={() => onAdd(s.type)}
                  title={lt(s.description)}
                  aria-label={t('palette.add', { title: lt(s.title) })}
                >
                  <NodeIcon icon={s.icon} category={s.category} />
                  <span>{lt(s.title)}</span>
                </button>
              </li>
            ))}
          </ul>
        </section>
      ))}
      <p className="muted small">{t('palette.hint')}</p>
    </aside>
  );
}
