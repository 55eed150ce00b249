import { useEffect, useState } from 'react';
import { api } from '../api/client';
import type { Template } from '../api/types';
import { useI18n } from '../i18n';
import { useRouter } from '../router';

/** GET /templates; a 404 (no templates endpoint yet) or an empty list shows an empty state. */
export function TemplatesPage() {
  const { t, lt } = useI18n();
  const { navigate } = useRouter();
  const [items, setItems] = useState<Template[] | null>(null);
  useEffect(() => {
    api.templates().then(setItems, () => setItems([]));
  }, []);
  return (
    <section className="page">
      <div className="page-head"><h1>{t('templates.heading')}</h1></div>
      {items === null && <p className="muted">{t('common.loading')}</p>}
      {items?.length === 0 && <p className="empty">{t('templates.empty')}</p>}
      <ul className="cards">
        {items?.map((tpl) => (
          <li key={tpl.id} className="card">
            <h2>{lt(tpl.name)}</h2>
            {tpl.description && <p className="muted">{lt(tpl.description)}</p>}
            <button
              type="button"
              className="primary"
              onClick={() => navigate('/flows/new', { doc: { ...tpl.definition, name: tpl.definition.name || lt(tpl.name) } })}
            >
              {t('templates.use')}
            </button>
          </li>
        ))}
      </ul>
    </section>
  );
}
