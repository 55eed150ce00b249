import { useEffect, useMemo, useState } from 'react';
import { api } from '../api/client';
import type { Template } from '../api/types';
import { hasKey, useI18n, type MessageKey } from '../i18n';
import { TemplateDialog } from '../components/TemplateDialog';

/** The template gallery (GET /templates); a 404 or an empty list shows an empty state. */
export function TemplatesPage() {
  const { t, lt } = useI18n();
  const [items, setItems] = useState<Template[] | null>(null);
  const [category, setCategory] = useState('');
  const [using, setUsing] = useState<Template | null>(null);
  // Known categories are translated; a custom template's own category shows as written.
  const categoryLabel = (c: string) => (hasKey(`category.${c}`) ? t(`category.${c}` as MessageKey) : c);
  useEffect(() => {
    api.templates().then(setItems, () => setItems([]));
  }, []);
  const categories = useMemo(() => [...new Set((items ?? []).map((x) => x.category).filter(Boolean) as string[])].sort(), [items]);
  const shown = (items ?? []).filter((x) => !category || x.category === category);
  return (
    <section className="page">
      <div className="page-head">
        <h1>{t('templates.heading')}</h1>
        {categories.length > 1 && (
          <div className="chips" role="group" aria-label={t('templates.category')}>
            <button type="button" aria-pressed={category === ''} onClick={() => setCategory('')}>{t('runs.all')}</button>
            {categories.map((c) => (
              <button key={c} type="button" aria-pressed={category === c} onClick={() => setCategory(c)}>{categoryLabel(c)}</button>
            ))}
          </div>
        )}
      </div>
      {items === null && <p className="muted">{t('common.loading')}</p>}
      {items?.length === 0 && <p className="empty">{t('templates.empty')}</p>}
      <ul className="cards">
        {shown.map((tpl) => (
          <li key={tpl.id} className="card" data-template={tpl.id}>
            {tpl.category && <span className="badge">{categoryLabel(tpl.category)}</span>}
            <h2>{lt(tpl.title)}</h2>
            {tpl.description && <p className="muted small">{lt(tpl.description)}</p>}
            <p className="small">
              {t('templates.nodes', { n: tpl.flow?.nodes?.length ?? 0 })}
              {(tpl.credentials?.length ?? 0) > 0 && <> · {t('templates.needsCreds', { list: tpl.credentials!.map((c) => c.type).join(', ') })}</>}
              {(tpl.teams?.length ?? 0) > 0 && <> · {t('templates.needsTeams', { n: tpl.teams!.length })}</>}
            </p>
            <button type="button" className="primary" onClick={() => setUsing(tpl)} aria-label={`${t('templates.use')}: ${lt(tpl.title)}`}>
              {t('templates.use')}
            </button>
          </li>
        ))}
      </ul>
      {using && <TemplateDialog template={using} onClose={() => setUsing(null)} />}
    </section>
  );
}
