/** Small text glyphs for the node types' icon names; unknown icons fall back to the category's. */
const ICONS: Record<string, string> = {
  bolt: '⚡', play: '▶', webhook: '🔗', split: '⑂', 'user-plus': '👤', globe: '🌐', note: '📝', message: '✉',
  clock: '⏱', mail: '✉', database: '🗄', code: '{}',
};
const BY_CATEGORY: Record<string, string> = { trigger: '⚡', logic: '⑂', action: '⚙' };

export function NodeIcon({ icon, category }: { icon?: string; category?: string }) {
  const glyph = (icon && ICONS[icon]) || BY_CATEGORY[category ?? ''] || '◆';
  return <span className={`node-icon cat-${category ?? 'other'}`} aria-hidden="true">{glyph}</span>;
}
