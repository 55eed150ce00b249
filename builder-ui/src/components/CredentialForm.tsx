import { useState, type FormEvent } from 'react';
import { api, ApiError } from '../api/client';
import type { Credential, CredentialType } from '../api/types';
import { useI18n } from '../i18n';

/**
 * The form that creates a credential, generated from its type's fields (GET /credential-types):
 * in Settings, and inline wherever a credential is missing (a node's panel, template import).
 * Secrets are password fields and are never read back. `only` limits the types offered; with a
 * single one it is chosen already. Inside another form (`nested`) it is a group, not a <form>.
 */
export function CredentialForm({ types, only, idPrefix = 'cred', nested = false, onCreated }: {
  types: CredentialType[];
  only?: string[];
  idPrefix?: string;
  nested?: boolean;
  onCreated: (c: Credential) => void;
}) {
  const { t, lt } = useI18n();
  const offered = only?.length ? types.filter((x) => only.includes(x.type)) : types;
  const [chosen, setType] = useState('');
  const fixed = !!only?.length && offered.length === 1; // the one type a field or template needs
  const type = chosen || (fixed ? offered[0].type : '');
  const [name, setName] = useState('');
  const [data, setData] = useState<Record<string, string>>({});
  const [error, setError] = useState('');
  const spec = offered.find((x) => x.type === type);

  const submit = async (e?: FormEvent) => {
    e?.preventDefault();
    setError('');
    const missing = spec?.fields.filter((f) => f.required && !(data[f.name] ?? '').trim()).map((f) => lt(f.title)) ?? [];
    if (!name.trim()) missing.unshift(t('settings.name'));
    if (missing.length) { setError(t('credential.missing', { list: missing.join(', ') })); return; }
    const values = Object.fromEntries(Object.entries(data).filter(([, v]) => v.trim() !== ''));
    try {
      const c = await api.createCredential(name.trim(), type, values);
      setName('');
      setData({});
      onCreated(c);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };

  const body = (
    <>
      {!fixed && (
        <div className="field">
          <label htmlFor={`${idPrefix}-type`}>{t('settings.type')}</label>
          <select id={`${idPrefix}-type`} value={type} onChange={(e) => { setType(e.target.value); setData({}); }} required>
            <option value="">{t('common.choose')}</option>
            {offered.map((x) => <option key={x.type} value={x.type}>{lt(x.title)}</option>)}
          </select>
          {spec && <span className="help">{lt(spec.description)}</span>}
        </div>
      )}
      {spec && (
        <>
          <div className="field">
            <label htmlFor={`${idPrefix}-name`}>{t('settings.name')} <span className="req">*</span></label>
            <input id={`${idPrefix}-name`} type="text" value={name} onChange={(e) => setName(e.target.value)} required placeholder={spec.type} />
            <span className="help">{t('settings.nameHelp')}</span>
          </div>
          {spec.fields.map((f) => (
            <div className="field" key={f.name}>
              <label htmlFor={`${idPrefix}-${f.name}`}>{lt(f.title)}{f.required && <span className="req"> *</span>}</label>
              {f.multiline ? (
                <textarea id={`${idPrefix}-${f.name}`} rows={4} value={data[f.name] ?? ''} required={f.required}
                  onChange={(e) => setData({ ...data, [f.name]: e.target.value })} />
              ) : (
                <input id={`${idPrefix}-${f.name}`} type={f.secret ? 'password' : 'text'} autoComplete="off" value={data[f.name] ?? ''}
                  required={f.required} placeholder={f.placeholder}
                  onChange={(e) => setData({ ...data, [f.name]: e.target.value })} />
              )}
            </div>
          ))}
          {error && <p className="field-error" role="alert">{error}</p>}
          <button type={nested ? 'button' : 'submit'} className="primary" onClick={nested ? () => void submit() : undefined}>
            {t('settings.saveCredential')}
          </button>
        </>
      )}
    </>
  );
  return nested
    ? <div className="settings-form inline-credential" role="group" aria-label={t('settings.newCredential')}>{body}</div>
    : <form className="settings-form" onSubmit={(e) => void submit(e)} aria-label={t('settings.newCredential')}>
      <h3>{t('settings.newCredential')}</h3>
      {body}
    </form>;
}
