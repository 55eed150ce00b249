import type { Lang, Problem } from '../api/types';
import type { MessageKey } from './en';
import { format } from './format';

/**
 * A server problem in the user's language: its code (and params.rule) names the message, its
 * params fill it in. The server's English message is the fallback for anything not known here.
 * fieldTitle turns a config field name into the field's title in the node type's schema.
 */
export function problemMessage(
  p: Problem,
  dict: Record<MessageKey, string>,
  lang: Lang,
  fieldTitle?: (name: string) => string | undefined,
): string {
  const params = p.params ?? {};
  const rule = typeof params.rule === 'string' ? params.rule : '';
  // Node-specific checks bring their own Chinese text.
  if (p.code === 'invalid_field' && rule === 'check') return (lang === 'zh-CN' && typeof params.zh === 'string' && params.zh) || p.message;
  const key = (rule ? `problem.${p.code}.${rule}` : `problem.${p.code}`) as MessageKey;
  if (!(key in dict)) return p.message;
  const vars: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(params)) {
    let s = typeof v === 'string' || typeof v === 'number' ? v : JSON.stringify(v);
    if (k === 'field' && typeof v === 'string') s = fieldTitle?.(v) || v;
    if ((k === 'want' || k === 'got') && `kind.${v}` in dict) s = dict[`kind.${v}` as MessageKey];
    vars[k] = s;
  }
  return format(dict[key], vars);
}
