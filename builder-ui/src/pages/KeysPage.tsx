import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { authApi, ROLES, type ApiKey, type Role } from '../api/auth';
import { useAuth } from '../auth';
import { useI18n } from '../i18n';
import { AccountSection } from './AccountSection';

/** API keys: yours (admins see all and may make service keys). A new key is shown once. */
export function KeysPage() {
  const { t, fmtTime } = useI18n();
  const { me, can } = useAuth();
  const [items, setItems] = useState<ApiKey[] | null>(null);
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>(me?.role ?? 'viewer');
  const [days, setDays] = useState('90');
  const [service, setService] = useState(false);
  const [created, setCreated] = useState<ApiKey | null>(null);
  const [error, setError] = useState('');
  const load = useCallback(() => authApi.keys().then(setItems, () => setItems([])), []);
  useEffect(() => { void load(); }, [load]);
  const mine = ROLES.slice(ROLES.indexOf(me?.role ?? 'viewer'));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    const n = Number(days);
    const expires_at = n > 0 ? new Date(Date.now() + n * 86400_000).toISOString() : undefined;
    try {
      setCreated(await authApi.createKey({ name: name.trim(), role, service, expires_at }));
      setName('');
      void load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  return (
    <section className="page">
      <div className="page-head"><h1>{t('keys.heading')}</h1></div>
      <p className="muted small">{t('keys.help')}</p>
      {created?.key && (
        <div className="key-once" role="status">
          <p>{t('keys.once')}</p>
          <code data-testid="new-key">{created.key}</code>
        </div>
      )}
      {items?.length === 0 && <p className="empty">{t('keys.none')}</p>}
      {items && items.length > 0 && (
        <table className="table">
          <thead><tr><th>{t('keys.name')}</th><th>{t('keys.prefix')}</th><th>{t('users.role')}</th><th>{t('keys.expires')}</th><th>{t('keys.lastUsed')}</th><th /></tr></thead>
          <tbody>
            {items.map((k) => (
              <tr key={k.id} data-key={k.name}>
                <td>{k.name}{k.service && <span className="muted small"> ({t('keys.service')})</span>}</td>
                <td><code>{k.prefix}…</code></td>
                <td>{t(`role.${k.role}` as const)}</td>
                <td>{k.expires_at ? fmtTime(k.expires_at) : t('keys.never')}</td>
                <td>{k.last_used_at ? fmtTime(k.last_used_at) : '—'}</td>
                <td className="actions">
                  {k.revoked_at ? <span className="muted">{t('keys.revoked')}</span> : (
                    <button type="button" className="danger" onClick={() => void authApi.revokeKey(k.id).then(load)}>{t('keys.revoke')}</button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="settings-form" onSubmit={submit} aria-label={t('keys.new')}>
        <h3>{t('keys.new')}</h3>
        <div className="field">
          <label htmlFor="key-name">{t('keys.name')}</label>
          <input id="key-name" type="text" value={name} onChange={(e) => setName(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor="key-role">{t('users.role')}</label>
          <select id="key-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {mine.map((r) => <option key={r} value={r}>{t(`role.${r}` as const)}</option>)}
          </select>
        </div>
        <div className="field">
          <label htmlFor="key-days">{t('keys.days')}</label>
          <input id="key-days" type="number" min={0} value={days} onChange={(e) => setDays(e.target.value)} />
        </div>
        {can('users:write') && (
          <label><input type="checkbox" checked={service} onChange={(e) => setService(e.target.checked)} /> {t('keys.serviceAccount')}</label>
        )}
        {error && <p className="field-error" role="alert">{error}</p>}
        <button type="submit" className="primary">{t('keys.create')}</button>
      </form>
      <AccountSection />
    </section>
  );
}
