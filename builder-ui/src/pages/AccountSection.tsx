import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { ApiError, request } from '../api/client';
import { useMaybeAuth } from '../auth';
import { useI18n } from '../i18n';

interface SessionInfo { id: string; ip: string; user_agent: string; created_at: string; last_seen_at: string; current: boolean }

/** Your signed-in sessions (revoke any) and your password. */
export function AccountSection() {
  const { t, fmtTime } = useI18n();
  const auth = useMaybeAuth();
  const [sessions, setSessions] = useState<SessionInfo[]>([]);
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [msg, setMsg] = useState('');
  const load = useCallback(() => request<{ items: SessionInfo[] }>('GET', '/auth/sessions').then((r) => setSessions(r.items ?? []), () => setSessions([])), []);
  useEffect(() => { void load(); }, [load]);
  const change = async (e: FormEvent) => {
    e.preventDefault();
    setMsg('');
    try {
      await request<void>('POST', '/auth/password', { current_password: current, new_password: next });
      await auth?.logout(); // every session ended, this one too: sign in with the new password
    } catch (err) {
      setMsg(err instanceof ApiError ? err.message : String(err));
    }
  };
  if (!auth?.me?.user) return null;
  return (
    <section className="settings-section" aria-labelledby="sessions-heading">
      <h2 id="sessions-heading">{t('account.sessions')}</h2>
      <table className="table">
        <thead><tr><th>{t('account.signedIn')}</th><th>{t('account.lastSeen')}</th><th>{t('audit.ip')}</th><th>{t('account.browser')}</th><th /></tr></thead>
        <tbody>
          {sessions.map((s) => (
            <tr key={s.id} data-session={s.id}>
              <td>{fmtTime(s.created_at)}{s.current && <strong> ({t('account.thisOne')})</strong>}</td>
              <td>{fmtTime(s.last_seen_at)}</td>
              <td>{s.ip}</td>
              <td className="small">{s.user_agent}</td>
              <td className="actions">
                {!s.current && <button type="button" className="danger" onClick={() => void request<void>('DELETE', `/auth/sessions/${s.id}`).then(load)}>{t('keys.revoke')}</button>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="settings-form" onSubmit={change} aria-label={t('account.changePassword')}>
        <h3>{t('account.changePassword')}</h3>
        <div className="field">
          <label htmlFor="pw-current">{t('account.currentPassword')}</label>
          <input id="pw-current" type="password" autoComplete="current-password" value={current} onChange={(e) => setCurrent(e.target.value)} required />
        </div>
        <div className="field">
          <label htmlFor="pw-new">{t('account.newPassword')}</label>
          <input id="pw-new" type="password" autoComplete="new-password" minLength={12} value={next} onChange={(e) => setNext(e.target.value)} required />
          <span className="help">{t('account.passwordHelp')}</span>
        </div>
        {msg && <p className="field-error" role="alert">{msg}</p>}
        <button type="submit" className="primary">{t('account.changePassword')}</button>
      </form>
    </section>
  );
}
