import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { useRouter } from '../router';

/** path is the page the toast was raised on: an error about one page is dropped on leaving it. */
type Toast = { id: number; kind: 'ok' | 'error'; text: string; path: string };
type Notify = (text: string, kind?: Toast['kind']) => void;
const Ctx = createContext<Notify>(() => {});
let seq = 0;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const { path } = useRouter();
  useEffect(() => setToasts((t) => t.filter((x) => x.kind !== 'error' || x.path === path)), [path]);
  const notify = useCallback<Notify>((text, kind = 'ok') => {
    const id = ++seq;
    setToasts((t) => [...t.slice(-2), { id, kind, text, path: location.pathname }]);
    setTimeout(() => setToasts((t) => t.filter((x) => x.id !== id)), kind === 'error' ? 7000 : 2500);
  }, []);
  return (
    <Ctx.Provider value={notify}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`} role={t.kind === 'error' ? 'alert' : undefined}>{t.text}</div>
        ))}
      </div>
    </Ctx.Provider>
  );
}

export const useNotify = () => useContext(Ctx);
