/** Small text glyphs for the node types' icon names; unknown icons fall back to the category's. */
// Only characters common fonts have (no emoji): the builder must look the same everywhere.
// Each logic node has its own, so a condition, a delay and a loop are told apart at a glance.
export const ICONS: Record<string, string> = {
  bolt: '⚡', play: '▶', webhook: '⇄', clock: '◷', split: '⋔', switch: '☰', hourglass: '◔', repeat: '↻',
  merge: '⋈', stop: '■', flow: '⤷', edit: '✎', tally: '#', 'user-plus': '☺', user: '☺', globe: '◍', note: '✎',
  message: '✉', mail: '@', megaphone: '☏', database: '▤', 'credit-card': '▭', scale: '⚖', reply: '↩',
  code: '{}', chat: '✉', link: '⇄', card: '▭', crm: '▤',
};
const BY_CATEGORY: Record<string, string> = { trigger: '⚡', logic: '↱', action: '⚙' };

export function NodeIcon({ icon, category }: { icon?: string; category?: string }) {
  const glyph = (icon && ICONS[icon]) || BY_CATEGORY[category ?? ''] || '◆';
  return <span className={`node-icon cat-${category ?? 'other'}`} aria-hidden="true" data-icon={icon}>{glyph}</span>;
}
