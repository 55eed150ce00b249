import { useEffect, useId, useState } from 'react';
import type { Credential, FieldSpec, Team } from '../../api/types';
import { useI18n } from '../../i18n';
import { ExpressionInput } from './ExpressionInput';

export interface FieldEditorProps {
  field: FieldSpec;
  value: unknown;
  onChange: (v: unknown) => void;
  /** Problems the server reported for this field. */
  errors: string[];
  scope: string[];
  credentials: Credential[];
  teams: Team[];
}

const DURATION_RE = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+$/;

/** One property, edited according to its kind. */
export function FieldEditor(props: FieldEditorProps) {
  const { field, errors } = props;
  const { t, lt } = useI18n();
  const id = useId();
  const [localError, setLocalError] = useState<string | null>(null);
  const help = lt(field.help);
  const allErrors = [...(localError ? [localError] : []), ...errors];
  const describedBy = [help ? `${id}-help` : '', allErrors.length ? `${id}-err` : ''].filter(Boolean).join(' ') || undefined;
  const isGroup = field.kind === 'keyvalue' || field.kind === 'stringlist';

  const label = (
    <>
      {lt(field.title) || field.name}
      {field.required && <span className="req" title={t('panel.required')}> *</span>}
    </>
  );
  return (
    <div className={`field kind-${field.kind} ${allErrors.length ? 'invalid' : ''}`} data-field={field.name}>
      {isGroup ? <div className="field-label" id={`${id}-label`}>{label}</div> : <label htmlFor={id}>{label}</label>}
      <Control {...props} id={id} describedBy={describedBy} invalid={allErrors.length > 0} setLocalError={setLocalError} />
      {(field.kind === 'expr' || field.kind === 'template') && (
        <div className="help">{field.kind === 'template' ? t('expr.templateHint') : t('expr.hint')}{field.expr_type ? ` ${t('expr.type', { type: field.expr_type })}` : ''}</div>
      )}
      {help && <div id={`${id}-help`} className="help">{help}</div>}
      {allErrors.length > 0 && (
        <div id={`${id}-err`} className="field-error" role="alert">
          {allErrors.map((e, i) => <div key={i}>{e}</div>)}
        </div>
      )}
    </div>
  );
}

type ControlProps = FieldEditorProps & {
  id: string;
  describedBy?: string;
  invalid: boolean;
  setLocalError: (e: string | null) => void;
};

function Control(p: ControlProps) {
  const { field, value, onChange, id, describedBy, invalid } = p;
  const { t, lt } = useI18n();
  const common = { id, 'aria-describedby': describedBy, 'aria-invalid': invalid || undefined, 'aria-required': field.required || undefined };
  const str = value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);

  switch (field.kind) {
    case 'expr':
    case 'template':
      return (
        <ExpressionInput
          id={id}
          value={str}
          onChange={onChange}
          scope={p.scope}
          template={field.kind === 'template'}
          placeholder={field.placeholder}
          invalid={invalid}
          describedBy={describedBy}
          maxLength={field.max_len}
        />
      );
    case 'number':
    case 'integer':
      return <NumberControl {...p} />;
    case 'bool': {
      const on = value === true;
      return (
        <span className="switch inline">
          <input {...common} type="checkbox" role="switch" checked={on} onChange={(e) => onChange(e.target.checked)} />
          <span aria-hidden="true" />
          <span className="switch-text" aria-hidden="true">{on ? t('panel.on') : t('panel.off')}</span>
        </span>
      );
    }
    case 'select':
      return (
        <select {...common} value={str} onChange={(e) => onChange(e.target.value || undefined)}>
          {(!field.required || !str) && <option value="">{t('common.choose')}</option>}
          {(field.options ?? []).map((o) => <option key={o.value} value={o.value}>{lt(o.title) || o.value}</option>)}
        </select>
      );
    case 'credential': {
      const types = field.credential_types ?? [];
      const list = p.credentials.filter((c) => types.length === 0 || types.includes(c.type));
      return (
        <>
          <select {...common} value={str} onChange={(e) => onChange(e.target.value || undefined)}>
            <option value="">{t('common.choose')}</option>
            {list.map((c) => <option key={c.id} value={c.id}>{c.name} ({c.type})</option>)}
            {str && !list.some((c) => c.id === str) && <option value={str}>{str}</option>}
          </select>
          {list.length === 0 && <div className="muted small">{t('panel.noCredentials', { types: types.join(', ') })}</div>}
        </>
      );
    }
    case 'team':
      return (
        <>
          <select {...common} value={str} onChange={(e) => onChange(e.target.value || undefined)}>
            <option value="">{t('common.choose')}</option>
            {p.teams.map((tm) => (
              <option key={tm.id} value={tm.id}>{tm.name} · {t('panel.members', { n: tm.members?.length ?? 0 })}</option>
            ))}
            {str && !p.teams.some((tm) => tm.id === str) && <option value={str}>{str}</option>}
          </select>
          {p.teams.length === 0 && <div className="muted small">{t('panel.noTeams')}</div>}
        </>
      );
    case 'duration':
      return <DurationControl {...p} />;
    case 'json':
      return <JsonControl {...p} />;
    case 'keyvalue':
      return <KeyValueControl {...p} />;
    case 'stringlist':
      return <StringListControl {...p} />;
    case 'string':
    default:
      return (
        <>
          <input
            {...common}
            type="text"
            value={str}
            placeholder={field.placeholder}
            maxLength={field.max_len}
            onChange={(e) => onChange(e.target.value)}
          />
          {field.kind !== 'string' && <div className="muted small">{t('panel.unknownKind', { kind: field.kind })}</div>}
        </>
      );
  }
}

function NumberControl({ field, value, onChange, id, describedBy, invalid, setLocalError }: ControlProps) {
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

function DurationControl({ field, value, onChange, id, describedBy, invalid, setLocalError }: ControlProps) {
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

function JsonControl({ value, onChange, id, describedBy, invalid, setLocalError, field }: ControlProps) {
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

function KeyValueControl({ value, onChange, id }: ControlProps) {
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

function StringListControl({ value, onChange, id }: ControlProps) {
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
