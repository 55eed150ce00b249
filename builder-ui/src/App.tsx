import { lazy, Suspense } from 'react';
import { useI18n, LANGS } from './i18n';
import { Link, parseRoute, useRouter } from './router';
import { FlowListPage } from './pages/FlowListPage';
import { RunsPage } from './pages/RunsPage';
import { TemplatesPage } from './pages/TemplatesPage';
import { SettingsPage } from './pages/SettingsPage';
import { WorkerStatus } from './components/WorkerStatus';
import { KeysPage } from './pages/KeysPage';
import { AuditPage } from './pages/AuditPage';
import { LoginPage, Forbidden } from './pages/LoginPage';
import { AuthProvider, useAuth } from './auth';
import type { Lang } from './api/types';

// The canvas pages (and the dashboard's charts) load on first use: the list pages stay small.
const EditorPage = lazy(() => import('./pages/EditorPage').then((m) => ({ default: m.EditorPage })));
const RunPage = lazy(() => import('./pages/RunPage').then((m) => ({ default: m.RunPage })));
const DashboardPage = lazy(() => import('./pages/DashboardPage').then((m) => ({ default: m.DashboardPage })));

export function App() {
  return <AuthProvider><Shell /></AuthProvider>;
}

/** Sign-in first; then the builder, with the pages the role may use. */
function Shell() {
  const { t, lang, setLang } = useI18n();
  const { path } = useRouter();
  const { status, me, can, logout } = useAuth();
  const route = parseRoute(path);
  if (status === 'loading') return <p className="muted">{t('common.loading')}</p>;
  if (status !== 'signed-in') return <LoginPage setup={status === 'setup'} />;
  const section = route.name === 'run' || route.name === 'runs' ? 'runs' : route.name === 'dashboard' || route.name === 'templates' || route.name === 'settings' || route.name === 'keys' || route.name === 'audit' ? route.name : 'flows';
  const admin = can('users:write');
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/flows" className="brand">{t('app.title')}</Link>
        <nav aria-label={t('nav.main')} className="mainnav">
          <Link to="/flows" aria-current={section === 'flows' ? 'page' : undefined}>{t('nav.flows')}</Link>
          <Link to="/runs" aria-current={section === 'runs' ? 'page' : undefined}>{t('nav.runs')}</Link>
          <Link to="/dashboard" aria-current={section === 'dashboard' ? 'page' : undefined}>{t('nav.dashboard')}</Link>
          <Link to="/templates" aria-current={section === 'templates' ? 'page' : undefined}>{t('nav.templates')}</Link>
          {admin && <Link to="/settings" aria-current={section === 'settings' ? 'page' : undefined}>{t('nav.settings')}</Link>}
          <Link to="/keys" aria-current={section === 'keys' ? 'page' : undefined}>{t('nav.keys')}</Link>
          {can('audit:read') && <Link to="/audit" aria-current={section === 'audit' ? 'page' : undefined}>{t('nav.audit')}</Link>}
        </nav>
        <WorkerStatus />
        <span className="whoami" data-role={me?.role}>{me?.user?.email ?? me?.name} · {me && t(`role.${me.role}` as const)}</span>
        <button type="button" className="small signout" onClick={() => void logout()}>{t('auth.signOut')}</button>
        <label className="lang">
          <span className="sr-only">{t('lang.label')}</span>
          <select aria-label={t('lang.label')} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => <option key={l.value} value={l.value}>{l.label}</option>)}
          </select>
        </label>
      </header>
      <main className="content">
        <Suspense fallback={<p className="muted">{t('common.loading')}</p>}>
        {route.name === 'flows' && <FlowListPage />}
        {route.name === 'editor' && <EditorPage key="editor" id={route.id} />}
        {route.name === 'runs' && <RunsPage />}
        {route.name === 'run' && <RunPage key={route.id} id={route.id} />}
        {route.name === 'templates' && <TemplatesPage />}
        {route.name === 'settings' && (admin ? <SettingsPage /> : <Forbidden />)}
        {route.name === 'keys' && <KeysPage />}
        {route.name === 'audit' && (can('audit:read') ? <AuditPage /> : <Forbidden />)}
        {route.name === 'setup' && <FlowListPage />}
        {route.name === 'dashboard' && <DashboardPage />}
        {route.name === 'notfound' && <p className="empty">404</p>}
        </Suspense>
      </main>
    </div>
  );
}
