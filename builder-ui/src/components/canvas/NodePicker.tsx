import { useMemo, useState, type KeyboardEvent } from 'react';
import { useI18n } from '../../i18n';
import { useNodeTypes } from '../../nodeTypes';
import { NodeIcon } from './icons';

/**
 * The node types a connection can lead to (not triggers), searchable, shown where a connection
 * was dropped on empty canvas. Enter picks the highlighted one, Escape or a click outside closes.
 */
export function NodePicker({ at, onPick, onClose }: {
  at: { x: number; y: number };
  onPick: (type: string) => void;
  onClose: () => void;
}) {
  const { t, lt } = useI18n();
  const { specs } = useNodeTypes();
  const [filter, setFilter] = useState('');
  const [active, setActive] = useState(0);
  const items = useMemo(() => {
    const f = filter.trim().toLowerCase();
    return specs.filter((s) => s.category !== 'trigger'
      && (!f || s.type.toLowerCase().includes(f) || lt(s.title).toLowerCase().includes(f)));
  }, [specs, filter, lt]);

  const onKey = (e: KeyboardEvent) => {
    if (e.key === 'Escape') { e.preventDefault(); onClose(); }
    else if (e.key === 'ArrowDown') { e.preventDefault(); setActive((a) => Math.min(a + 1, items.length - 1)); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); setActive((a) => Math.max(a - 1, 0)); }
    else if (e.key === 'Enter' && items[active]) { e.preventDefault(); onPick(items[active].type); }
  };
  // Kept inside the window: open to the left or upwards near the edges.
  const style = {
    left: Math.min(at.x, window.innerWidth - 260),
    top: Math.min(at.y, window.innerHeight - 320),
  };
  return (
    <div className="picker-backdrop" onMouseDown={onClose}>
      <div className="node-picker" role="dialog" aria-label={t('picker.heading')} style={style}
        onMouseDown={(e) => e.stopPropagation()} onKeyDown={onKey}>
        <input type="search" autoFocus aria-label={t('picker.search')} placeholder={t('picker.search')} value={filter}
          onChange={(e) => { setFilter(e.target.value); setActive(0); }} />
        <ul role="listbox" aria-label={t('picker.heading')}>
          {items.map((s, i) => (
            <li key={s.type} role="option" aria-selected={i === active} data-node-type={s.type}
              className={`cat-${s.category} ${i === active ? 'active' : ''}`}
              onMouseEnter={() => setActive(i)} onClick={() => onPick(s.type)}>
              <NodeIcon icon={s.icon} category={s.category} /> {lt(s.title)}
            </li>
          ))}
        </ul>
        {items.length === 0 && <p className="muted small">{t('picker.none')}</p>}
      </div>
    </div>
  );
}
