import type { KeyboardEvent, ReactNode } from 'react';
import { useI18n, type MessageKey } from '../i18n';

export type TabName = 'properties' | 'test' | 'versions' | 'runs';
const TABS: TabName[] = ['properties', 'test', 'versions', 'runs'];

/** The editor's right-hand panel: an ARIA tab list with arrow-key navigation. */
export function SideTabs({ tab, onTab, children }: { tab: TabName; onTab: (t: TabName) => void; children: ReactNode }) {
  const { t } = useI18n();
  const onKey = (e: KeyboardEvent) => {
    const i = TABS.indexOf(tab);
    if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
      e.preventDefault();
      const next = TABS[(i + (e.key === 'ArrowRight' ? 1 : TABS.length - 1)) % TABS.length];
      onTab(next);
      requestAnimationFrame(() => document.getElementById(`tab-${next}`)?.focus());
    }
  };
  return (
    <aside className="sidepanel">
      <div role="tablist" aria-label={t('tabs.label')} className="tabs" onKeyDown={onKey}>
        {TABS.map((name) => (
          <button
            key={name}
            id={`tab-${name}`}
            type="button"
            role="tab"
            aria-selected={tab === name}
            aria-controls="sidepanel-body"
            tabIndex={tab === name ? 0 : -1}
            onClick={() => onTab(name)}
          >
            {t(`tabs.${name}` as MessageKey)}
          </button>
        ))}
      </div>
      <div id="sidepanel-body" role="tabpanel" aria-labelledby={`tab-${tab}`} className="tabpanel">
        {children}
      </div>
    </aside>
  );
}
