import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { authApi, ROLES, type Role, type User } from '../api/auth';
import { useMaybeAuth } from '../auth';
import { useI18n } from '../i18n';
import { useNotify } from '../components/Toasts';

/** Settings → Users: create people, change roles, disable, reset passwords (admins). */
export function UsersSection() {
  const { t, fmtTime } = useI18n();
  const me = useMaybeAuth()?.me;
  const notify = useNotify();
  const [items, setItems] = useState<User[] | null>(null);
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('editor');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const load = useCallback(() => authApi.users().then(setItems, () => setItems([])), []);
  useEffect(() => { void load(); }, [load]);
  const act = (p: Promise<unknown>, done: string) =>
    p.then(() => { notify(done); void load(); }, (e: unknown) => notify(e instanceof Error ? e.message : String(e), 'error'));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    try {
      await authApi.createUser({ email: email.trim(), name: name.trim(), role, password });
      notify(t('users.created', { email: email.trim() }));
      setEmail(''); setName(''); setPassword('');
      void load();
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    }
  };
  const reset = (u: User) => {
    const pw = window.prompt(t('users.newPassword', { email: u.email }));
    if (pw) void act(authApi.resetPassword(u.id, pw), t('users.passwordReset', { email: u.email }));
  };
  return (
    <section className="settings-section" aria-labelledby="users-heading">
      <h2 id="users-heading">{t('users.heading')}</h2>
      <p className="muted small">{t('users.help')}</p>
      {items && items.length > 0 && (
        <table className="table">
          <thead><tr><th>{t('auth.email')}</th><th>{t('auth.name')}</th><th>{t('users.role')}</th><th>{t('users.lastLogin')}</th><th /></tr></thead>
          <tbody>
            {items.map((u) => (
              <tr key={u.id} data-user={u.email}>
                <td>{u.email}{u.disabled && <span className="muted small"> ({t('users.disabled')})</span>}{u.locked && <span className="error small"> ({t('users.locked')})</span>}</td>
                <td>{u.name}</td>
                <td>
                  <select aria-label={`${t('users.role')}: ${u.email}`} value={u.role} disabled={u.id === me?.user?.id}
                    onChange={(e) => void act(authApi.updateUser(u.id, { role: e.target.value as Role }), t('users.saved', { email: u.email }))}>
                    {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}` as const)}</option>)}
                  </select>
                </td>
                <td>{u.last_login_at ? fmtTime(u.last_login_at) : '—'}</td>
                <td className="actions">
                  <button type="button" onClick={() => reset(u)}>{t('users.reset')}</button>
                  {u.id !== me?.user?.id && (
                    <button type="button" className={u.disabled ? '' : 'danger'}
                      onClick={() => void act(authApi.updateUser(u.id, { disabled: !u.disabled }), t('users.saved', { email: u.email }))}>
                      {u.disabled ? t('users.enable') : t('users.disable')}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="settings-form" onSubmit={submit} aria-label={t('users.new')}>
        <h3>{t('users.new')}</h3>
        <div className="field">
          <label htmlFor="user-email">{t('auth.email')}</label>
          <input id="user-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor="user-name">{t('auth.name')}</label>
          <input id="user-name" type="text" value={name} onChange={(e) => setName(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="user-role">{t('users.role')}</label>
          <select id="user-role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
            {ROLES.map((r) => <option key={r} value={r}>{t(`role.${r}` as const)}</option>)}
          </select>
          <span className="help">{t(`role.${role}.help` as const)}</span>
        </div>
        <div className="field">
          <label htmlFor="user-password">{t('users.initialPassword')}</label>
          <input id="user-password" type="password" autoComplete="new-password" value={password} onChange={(e) => setPassword(e.target.value)} required minLength={12} />
          <span className="help">{t('auth.passwordHelp')}</span>
        </div>
        {error && <p className="field-error" role="alert">{error}</p>}
        <button type="submit" className="primary">{t('users.create')}</button>
      </form>
    </section>
  );
}
