import { useEffect, useId, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { completionAt, suggest, type Completion } from '../../flow/expr';
import { useI18n } from '../../i18n';

/**
 * A text area for expr and template fields with autocomplete of the paths in scope
 * (from POST /flows/validate's scopes). In a template, suggestions appear inside {{ }}.
 */
export function ExpressionInput({ id, value, onChange, scope, template, placeholder, invalid, describedBy, maxLength }: {
  id: string;
  value: string;
  onChange: (v: string) => void;
  scope: string[];
  template: boolean;
  placeholder?: string;
  invalid?: boolean;
  describedBy?: string;
  maxLength?: number;
}) {
  const { t } = useI18n();
  const listId = useId();
  const ref = useRef<HTMLTextAreaElement>(null);
  const [comp, setComp] = useState<Completion | null>(null);
  const [items, setItems] = useState<string[]>([]);
  const [active, setActive] = useState(0);

  const refresh = (text: string, cursor: number, force = false) => {
    const c = completionAt(text, cursor, template);
    if (!c || (!force && c.prefix === '')) { setComp(null); setItems([]); return; }
    const list = suggest(scope, c.prefix);
    setComp(list.length ? c : null);
    setItems(list);
    setActive(0);
  };

  // The scope comes from the server's validation and may arrive after the user typed: refresh then.
  useEffect(() => {
    const el = ref.current;
    if (el && document.activeElement === el) refresh(el.value, el.selectionStart ?? el.value.length);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [scope]);

  // Where the caret goes once an accepted suggestion is in the value: set in the same commit
  // (a frame later, the next key typed would land at the end of the text).
  const caret = useRef<number | null>(null);
  useLayoutEffect(() => {
    const el = ref.current;
    if (el && caret.current !== null) { el.focus(); el.setSelectionRange(caret.current, caret.current); }
    caret.current = null;
  }, [value]);

  const accept = (path: string) => {
    if (!comp) return;
    const next = value.slice(0, comp.from) + path + value.slice(comp.to);
    caret.current = comp.from + path.length;
    onChange(next);
    setComp(null);
    setItems([]);
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === ' ' && e.ctrlKey) {
      e.preventDefault();
      refresh(value, e.currentTarget.selectionStart ?? value.length, true);
      return;
    }
    if (!comp || items.length === 0) return;
    if (e.key === 'ArrowDown') { e.preventDefault(); setActive((a) => (a + 1) % items.length); }
    else if (e.key === 'ArrowUp') { e.preventDefault(); setActive((a) => (a - 1 + items.length) % items.length); }
    else if (e.key === 'Enter' || e.key === 'Tab') { e.preventDefault(); accept(items[active]); }
    else if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); setComp(null); setItems([]); }
  };

  const open = !!comp && items.length > 0;
  return (
    <div className="expr-input">
      <textarea
        ref={ref}
        id={id}
        className="mono"
        rows={template ? 2 : 2}
        value={value}
        placeholder={placeholder}
        maxLength={maxLength}
        spellCheck={false}
        role="combobox"
        aria-autocomplete="list"
        aria-expanded={open}
        aria-controls={listId}
        aria-activedescendant={open ? `${listId}-${active}` : undefined}
        aria-invalid={invalid || undefined}
        aria-describedby={describedBy}
        onChange={(e) => { onChange(e.target.value); refresh(e.target.value, e.target.selectionStart ?? e.target.value.length); }}
        onKeyDown={onKeyDown}
        onBlur={() => setTimeout(() => { setComp(null); setItems([]); }, 150)}
      />
      <ul id={listId} role="listbox" aria-label={t('expr.suggestions')} className="suggestions" hidden={!open}>
        {open && items.map((s, i) => (
          <li
            key={s}
            id={`${listId}-${i}`}
            role="option"
            aria-selected={i === active}
            className={i === active ? 'active' : ''}
            onMouseDown={(e) => { e.preventDefault(); accept(s); }}
          >
            <span className="mono">{s}</span>
          </li>
        ))}
      </ul>
    </div>
  );
}
