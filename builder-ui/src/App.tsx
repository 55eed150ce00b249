import { useI18n, LANGS } from './i18n';
import { Link, parseRoute, useRouter } from './router';
import { FlowListPage } from './pages/FlowListPage';
import { EditorPage } from './pages/EditorPage';
import { RunsPage } from './pages/RunsPage';
import { RunPage } from './pages/RunPage';
import { TemplatesPage } from './pages/TemplatesPage';
import { SettingsPage } from './pages/SettingsPage';
import { WorkerStatus } from './components/WorkerStatus';
import type { Lang } from './api/types';

export function App() {
  const { t, lang, setLang } = useI18n();
  const { path } = useRouter();
  const route = parseRoute(path);
  const section = route.name === 'run' || route.name === 'runs' ? 'runs' : route.name === 'templates' ? 'templates' : route.name === 'settings' ? 'settings' : 'flows';
  return (
    <div className="app">
      <header className="topbar">
        <Link to="/flows" className="brand">{t('app.title')}</Link>
        <nav aria-label={t('nav.main')} className="mainnav">
          <Link to="/flows" aria-current={section === 'flows' ? 'page' : undefined}>{t('nav.flows')}</Link>
          <Link to="/runs" aria-current={section === 'runs' ? 'page' : undefined}>{t('nav.runs')}</Link>
          <Link to="/templates" aria-current={section === 'templates' ? 'page' : undefined}>{t('nav.templates')}</Link>
          <Link to="/settings" aria-current={section === 'settings' ? 'page' : undefined}>{t('nav.settings')}</Link>
        </nav>
        <WorkerStatus />
        <label className="lang">
          <span className="sr-only">{t('lang.label')}</span>
          <select aria-label={t('lang.label')} value={lang} onChange={(e) => setLang(e.target.value as Lang)}>
            {LANGS.map((l) => <option key={l.value} value={l.value}>{l.label}</option>)}
          </select>
        </label>
      </header>
      <main className="content">
        {route.name === 'flows' && <FlowListPage />}
        {route.name === 'editor' && <EditorPage key="editor" id={route.id} />}
        {route.name === 'runs' && <RunsPage />}
        {route.name === 'run' && <RunPage key={route.id} id={route.id} />}
        {route.name === 'templates' && <TemplatesPage />}
        {route.name === 'settings' && <SettingsPage />}
        {route.name === 'notfound' && <p className="empty">404</p>}
      </main>
    </div>
  );
}
