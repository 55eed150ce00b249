/** Small text glyphs for the node types' icon names; unknown icons fall back to the category's. */
// Only characters common fonts have (no emoji): the builder must look the same everywhere.
const ICONS: Record<string, string> = {
  bolt: '⚡', play: '▶', webhook: '⇄', split: '↱', 'user-plus': '☺', user: '☺', globe: '◍', note: '✎', message: '✉',
  clock: '◷', mail: '✉', database: '▤', code: '{}', chat: '✉', link: '⇄', card: '▭', crm: '▤',
};
const BY_CATEGORY: Record<string, string> = { trigger: '⚡', logic: '↱', action: '⚙' };

export function NodeIcon({ icon, category }: { icon?: string; category?: string }) {
  const glyph = (icon && ICONS[icon]) || BY_CATEGORY[category ?? ''] || '◆';
  return <span className={`node-icon cat-${category ?? 'other'}`} aria-hidden="true">{glyph}</span>;
}
