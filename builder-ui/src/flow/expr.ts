/** Helpers of the expression editor's autocomplete. */

export interface Completion { from: number; to: number; prefix: string }

const PATH_CHARS = /[A-Za-z0-9_.]/;

/**
 * Finds the path being typed before the cursor: in an expr field anywhere, in a template
 * only inside an open "{{ … }}".
 */
export function completionAt(text: string, cursor: number, template: boolean): Completion | null {
  if (template) {
    const open = text.lastIndexOf('{{', cursor - 1);
    if (open < 0) return null;
    const close = text.lastIndexOf('}}', cursor - 1);
    if (close > open) return null;
  }
  let from = cursor;
  while (from > 0 && PATH_CHARS.test(text[from - 1])) from--;
  const prefix = text.slice(from, cursor);
  if (/^[0-9]/.test(prefix)) return null;
  return { from, to: cursor, prefix };
}

/** Scope paths that extend the prefix, nearest first (fewest segments), then by name. */
export function suggest(scope: string[], prefix: string, max = 50): string[] {
  const p = prefix.toLowerCase();
  return scope
    .filter((s) => s.toLowerCase().startsWith(p) && s !== prefix)
    .sort((a, b) => a.split('.').length - b.split('.').length || a.localeCompare(b))
    .slice(0, max);
}
