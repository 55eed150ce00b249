import { useState, type FormEvent } from 'react';
import { ApiError } from '../api/client';
import { authApi } from '../api/auth';
import { useAuth } from '../auth';
import { useI18n, LANGS } from '../i18n';
import { useRouter } from '../router';
import type { Lang } from '../api/types';

/** Sign-in, or on an empty installation the first admin's creation with the setup token. */
export function LoginPage({ setup }: { setup: boolean }) {
  const { t, lang, setLang } = useI18n();
  const { login } = useAuth();
  const { navigate } = useRouter();
  const [email, setEmail] = useState('');
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState(() => new URLSearchParams(location.search).get('token') ?? '');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError('');
    setBusy(true);
    try {
      if (setup) await authApi.setup(token.trim(), email, name, password);
      await login(email, password);
      if (setup) navigate('/', undefined, true);
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="login">
      <form className="login-card" onSubmit={submit} aria-label={setup ? t('auth.setupTitle') : t('auth.signIn')}>
        <h1>{t('app.title')}</h1>
        <h2>{setup ? t('auth.setupTitle') : t('auth.signIn')}</h2>
        {setup && <p className="muted small">{t('auth.setupHelp')}</p>}
        {setup && (
          <div className="field">
            <label htmlFor="setup-token">{t('auth.setupToken')}</label>
            <input id="setup-token" type="text" value={token} onChange={(e) => setToken(e.target.value)} required autoComplete="off" />
          </div>
        )}
        <div className="field">
          <label htmlFor="login-email">{t('auth.email')}</label>
          <input id="login-email" type="email" value={email} onChange={(e) => setEmail(e.target.value)} required autoComplete="username" />
        </div>
        {setup && (
          <div className="field">
            <label htmlFor="setup-name">{t('auth.name')}</label>
            <input id="setup-name" type="text" value={name} onChange={(e) => setName(e.target.value)} />
          </div>
        )}
        <div className="field">
          <label htmlFor="login-password">{t('auth.password')}</label>
          <input id="login-password" type="password" value={password} onChange={(e) => setPassword(e.target.value)} required
            autoComplete={setup ? 'new-password' : 'current-password'} minLength={setup ? 12 : undefined} />
          {setup && <span className="help">{t('auth.passwordHelp')}</span>}
        </div>
        {error && <p className="field-error" role="alert">{error}</p>}
        <button type="submit" className="primary" disabled={busy}>{setup ? t('auth.createAdmin') : t('auth.signIn')}</button>
        <label className="lang">
          <span className="sr-only">{t('lang.label')}</span>
          <select aria-label={t('lang.label')} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => <option key={l.value} value={l.value}>{l.label}</option>)}
          </select>
        </label>
      </form>
    </div>
  );
}

/** Shown instead of a page the signed-in role may not use (the API refuses it too). */
export function Forbidden() {
  const { t } = useI18n();
  return <section className="page"><p className="empty" role="alert">{t('auth.forbidden')}</p></section>;
}
