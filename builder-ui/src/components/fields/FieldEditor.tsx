import { useId, useState } from 'react';
import type { Credential, CredentialType, FieldSpec, Team } from '../../api/types';
import { CredentialForm } from '../CredentialForm';
import { TeamForm } from '../TeamForm';
import { useI18n } from '../../i18n';
import { ExpressionInput } from './ExpressionInput';
import { DurationControl, JsonControl, KeyValueControl, NumberControl, StringListControl } from './controls';

export interface FieldEditorProps {
  field: FieldSpec;
  value: unknown;
  onChange: (v: unknown) => void;
  /** Problems the server reported for this field. */
  errors: string[];
  scope: string[];
  credentials: Credential[];
  teams: Team[];
  /** For creating a missing credential inline. */
  credentialTypes?: CredentialType[];
  onCredentialCreated?: (c: Credential) => void;
  /** For creating a missing team inline. */
  onTeamCreated?: (t: Team) => void;
}

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
        <div className="help expr-hint">{field.kind === 'template' ? t('expr.templateHint') : t('expr.hint')}{field.expr_type ? ` ${t('expr.type', { type: field.expr_type })}` : ''}</div>
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

export type ControlProps = FieldEditorProps & {
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
        // A label, so that clicking the drawn track (which lies over the input) toggles it.
        <label className="switch inline">
          <input {...common} type="checkbox" role="switch" checked={on} onChange={(e) => onChange(e.target.checked)} />
          <span aria-hidden="true" />
          <span className="switch-text" aria-hidden="true">{on ? t('panel.on') : t('panel.off')}</span>
        </label>
      );
    }
    case 'select': {
      // An unset field with a default is that default, and shows as it (not as "— choose —").
      const def = typeof field.default === 'string' ? field.default : '';
      return (
        <select {...common} value={str || def} onChange={(e) => onChange(e.target.value || undefined)}>
          {!def && (!field.required || !str) && <option value="">{t('common.choose')}</option>}
          {(field.options ?? []).map((o) => <option key={o.value} value={o.value}>{lt(o.title) || o.value}</option>)}
        </select>
      );
    }
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
          {p.credentialTypes && <NewCredential {...p} />}
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
          {p.onTeamCreated && <NewTeam {...p} />}
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
            placeholder={field.placeholder ?? (typeof field.default === 'string' ? field.default : undefined)}
            maxLength={field.max_len}
            onChange={(e) => onChange(e.target.value)}
          />
          {field.kind !== 'string' && <div className="muted small">{t('panel.unknownKind', { kind: field.kind })}</div>}
        </>
      );
  }
}

/** "+ New credential": the credential form inline, for the types this field accepts; the new one is chosen. */
function NewCredential(p: ControlProps) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="small link" aria-expanded={open} onClick={() => setOpen(!open)}>{t('credential.create')}</button>
      {open && (
        <CredentialForm
          nested
          idPrefix={`${p.id}-new`}
          types={p.credentialTypes ?? []}
          only={p.field.credential_types}
          onCreated={(c) => { p.onCredentialCreated?.(c); p.onChange(c.id); setOpen(false); }}
        />
      )}
    </>
  );
}

/** "+ New team": the team form inline; the new team is chosen. */
function NewTeam(p: ControlProps) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="small link" aria-expanded={open} onClick={() => setOpen(!open)}>{t('team.create')}</button>
      {open && (
        <TeamForm idPrefix={`${p.id}-team`} onCreated={(tm) => { p.onTeamCreated?.(tm); p.onChange(tm.id); setOpen(false); }} />
      )}
    </>
  );
}
