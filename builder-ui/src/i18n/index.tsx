import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { en, type MessageKey } from './en';
import { zhCN } from './zh-CN';
import type { Lang, LocalText, Problem } from '../api/types';
import { format } from './format';
import { problemMessage } from './problems';

export type { MessageKey };
const dicts: Record<Lang, Record<MessageKey, string>> = { en, 'zh-CN': zhCN };
export const LANGS: { value: Lang; label: string }[] = [
  { value: 'en', label: 'English' },
  { value: 'zh-CN', label: '简体中文' },
];
const STORAGE_KEY = 'opsflow.lang';

/** The language to start with: a saved choice, else the browser's. */
export function detectLang(nav: { language?: string; languages?: readonly string[] } = navigator): Lang {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'en' || saved === 'zh-CN') return saved;
  } catch { /* storage unavailable */ }
  const list = [...(nav.languages ?? []), nav.language ?? ''];
  for (const l of list) {
    const lc = l.toLowerCase();
    if (lc.startsWith('zh')) return 'zh-CN';
    if (lc.startsWith('en')) return 'en';
  }
  return 'en';
}

/** Whether key is a message (for keys made from data, such as a template's category). */
export function hasKey(key: string): key is MessageKey {
  return key in en;
}

/** A message outside React (the API client), in the saved or the browser's language. */
export function translate(key: MessageKey, lang: Lang = detectLang()): string {
  return dicts[lang][key];
}

export { format };

export type TFunc = (key: MessageKey, vars?: Record<string, string | number>) => string;

interface I18n {
  lang: Lang;
  setLang: (l: Lang) => void;
  t: TFunc;
  /** Picks the current language from an API text ({en, "zh-CN"}), falling back to English. */
  lt: (text: LocalText | string | undefined) => string;
  fmtTime: (iso: string | null | undefined) => string;
  /** A compact date and time for tables (one short line; the year only when it is not this one). */
  fmtShort: (iso: string | null | undefined) => string;
  /** A port's label: known ports (true, false, out, …) are translated, others shown as named. */
  portLabel: (port: string) => string;
  /** A server problem in this language; fieldTitle names config fields by their titles. */
  pt: (p: Problem, fieldTitle?: (name: string) => string | undefined) => string;
}

const Ctx = createContext<I18n | null>(null);

export function I18nProvider({ children, initial }: { children: ReactNode; initial?: Lang }) {
  const [lang, setLangState] = useState<Lang>(() => initial ?? detectLang());
  const setLang = useCallback((l: Lang) => {
    setLangState(l);
    try { localStorage.setItem(STORAGE_KEY, l); } catch { /* ignore */ }
  }, []);
  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = dicts[lang]['app.title'];
  }, [lang]);
  const value = useMemo<I18n>(() => {
    const dict = dicts[lang];
    const dtf = new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeStyle: 'medium' });
    const short = new Intl.DateTimeFormat(lang, { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
    const shortYear = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', hour12: false });
    return {
      lang,
      setLang,
      t: (key, vars) => format(dict[key] ?? en[key] ?? key, vars),
      lt: (text) => {
        if (text === undefined || text === null) return '';
        if (typeof text === 'string') return text;
        return text[lang] || text.en || '';
      },
      portLabel: (port) => {
        const key = `port.${port}` as MessageKey;
        return key in dict ? dict[key] : port;
      },
      pt: (p, fieldTitle) => problemMessage(p, dict, lang, fieldTitle),
      fmtTime: (iso) => {
        if (!iso) return '—';
        const d = new Date(iso);
        return isNaN(d.getTime()) ? iso : dtf.format(d);
      },
      fmtShort: (iso) => {
        if (!iso) return '—';
        const d = new Date(iso);
        if (isNaN(d.getTime())) return iso;
        return (d.getFullYear() === new Date().getFullYear() ? short : shortYear).format(d);
      },
    };
  }, [lang, setLang]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useI18n(): I18n {
  const v = useContext(Ctx);
  if (!v) throw new Error('useI18n outside I18nProvider');
  return v;
}
