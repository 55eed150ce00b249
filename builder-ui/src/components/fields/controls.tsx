import { useEffect, useState } from 'react';
import { useI18n } from '../../i18n';
import type { ControlProps } from './FieldEditor';

// The field controls that keep local state (text being typed that is not yet a valid value).

const DURATION_RE = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/;

export function NumberControl({ field, value, onChange, id, describedBy, invalid, setLocalError }: ControlProps) {
  const { t } = useI18n();
  const [text, setText] = useState(value === undefined || value === null ? '' : String(value));
  useEffect(() => {
    setText((cur) => (Number(cur) === value ? cur : value === undefined || value === null ? '' : String(value)));
  }, [value]);
  const set = (s: string) => {
    setText(s);
    if (s.trim() === '') { setLocalError(null); onChange(undefined); return; }
    const n = Number(s);
    if (!Number.isFinite(n)) return setLocalError(t('panel.invalidNumber'));
    if (field.kind === 'integer' && !Number.isInteger(n)) return setLocalError(t('panel.invalidInteger'));
    if (field.min !== undefined && n < field.min) setLocalError(t('panel.min', { n: field.min }));
    else if (field.max !== undefined && n > field.max) setLocalError(t('panel.max', { n: field.max }));
    else setLocalError(null);
    onChange(n);
  };
  return (
    <input
      id={id}
      type="number"
      inputMode={field.kind === 'integer' ? 'numeric' : 'decimal'}
      step={field.kind === 'integer' ? 1 : 'any'}
      min={field.min}
      max={field.max}
      value={text}
      placeholder={field.placeholder}
      aria-describedby={describedBy}
      aria-invalid={invalid || undefined}
      onChange={(e) => set(e.target.value)}
    />
  );
}

export function DurationControl({ field, value, onChange, id, describedBy, invalid, setLocalError }: ControlProps) {
  const { t } = useI18n();
  const str = typeof value === 'string' ? value : value === undefined ? '' : String(value);
  return (
    <input
      id={id}
      type="text"
      className="mono"
      value={str}
      placeholder={field.placeholder ?? '30s'}
      aria-describedby={describedBy}
      aria-invalid={invalid || undefined}
      onChange={(e) => {
        const s = e.target.value.trim();
        setLocalError(s && !DURATION_RE.test(s) ? t('panel.invalidDuration') : null);
        onChange(s || undefined);
      }}
    />
  );
}

export function JsonControl({ value, onChange, id, describedBy, invalid, setLocalError, field }: ControlProps) {
  const { t } = useI18n();
  const fmt = (v: unknown) => (v === undefined || v === null ? '' : JSON.stringify(v, null, 2));
  const [text, setText] = useState(() => fmt(value));
  useEffect(() => {
    // Follow outside changes (undo, another node) unless the text already means the same value.
    setText((cur) => {
      try { if (JSON.stringify(cur.trim() ? JSON.parse(cur) : undefined) === JSON.stringify(value)) return cur; } catch { /* fall through */ }
      return fmt(value);
    });
  }, [value]);
  return (
    <textarea
      id={id}
      className="mono"
      rows={5}
      value={text}
      placeholder={field.placeholder ?? '{ }'}
      spellCheck={false}
      aria-describedby={describedBy}
      aria-invalid={invalid || undefined}
      onChange={(e) => {
        const s = e.target.value;
        setText(s);
        if (!s.trim()) { setLocalError(null); onChange(undefined); return; }
        try {
          onChange(JSON.parse(s));
          setLocalError(null);
        } catch (err) {
          setLocalError(t('panel.invalidJson', { msg: (err as Error).message }));
        }
      }}
    />
  );
}

type Row = { k: string; v: string };

export function KeyValueControl({ value, onChange, id }: ControlProps) {
  const { t } = useI18n();
  const toRows = (v: unknown): Row[] =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.entries(v as Record<string, unknown>).map(([k, x]) => ({ k, v: typeof x === 'string' ? x : JSON.stringify(x) }))
      : [];
  const [rows, setRows] = useState<Row[]>(() => toRows(value));
  const emit = (next: Row[]) => {
    setRows(next);
    const obj: Record<string, string> = {};
    for (const r of next) if (r.k.trim()) obj[r.k.trim()] = r.v;
    onChange(Object.keys(obj).length ? obj : undefined);
  };
  return (
    <div className="kv" role="group" aria-labelledby={`${id}-label`}>
      {rows.map((r, i) => (
        <div className="kv-row" key={i}>
          <input aria-label={`${t('panel.key')} ${i + 1}`} placeholder={t('panel.key')} value={r.k}
            onChange={(e) => emit(rows.map((x, j) => (j === i ? { ...x, k: e.target.value } : x)))} />
          <input aria-label={`${t('panel.value')} ${i + 1}`} placeholder={t('panel.value')} value={r.v}
            onChange={(e) => emit(rows.map((x, j) => (j === i ? { ...x, v: e.target.value } : x)))} />
          <button type="button" className="icon" aria-label={`${t('common.remove')} ${i + 1}`} onClick={() => emit(rows.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" className="small" onClick={() => setRows([...rows, { k: '', v: '' }])}>+ {t('panel.addRow')}</button>
    </div>
  );
}

export function StringListControl({ value, onChange, id }: ControlProps) {
  const { t } = useI18n();
  const [items, setItems] = useState<string[]>(() => (Array.isArray(value) ? value.map(String) : []));
  const emit = (next: string[]) => {
    setItems(next);
    const clean = next.filter((s) => s.trim() !== '');
    onChange(clean.length ? clean : undefined);
  };
  return (
    <div className="stringlist" role="group" aria-labelledby={`${id}-label`}>
      {items.map((s, i) => (
        <div className="kv-row" key={i}>
          <input aria-label={t('panel.item', { n: i + 1 })} value={s} onChange={(e) => emit(items.map((x, j) => (j === i ? e.target.value : x)))} />
          <button type="button" className="icon" aria-label={`${t('common.remove')} ${i + 1}`} onClick={() => emit(items.filter((_, j) => j !== i))}>×</button>
        </div>
      ))}
      <button type="button" className="small" onClick={() => setItems([...items, ''])}>+ {t('panel.addItem')}</button>
    </div>
  );
}
