import { createContext, useCallback, useContext, useEffect, useState, type ReactNode, type MouseEvent } from 'react';

/** A tiny History-API router: the Go server answers every non-/api path with index.html. */
export type Route =
  | { name: 'flows' }
  | { name: 'editor'; id: string | null }
  | { name: 'runs' }
  | { name: 'dashboard' }
  | { name: 'run'; id: string }
  | { name: 'templates' }
  | { name: 'settings' }
  | { name: 'keys' }
  | { name: 'audit' }
  | { name: 'setup' }
  | { name: 'notfound' };

export function parseRoute(path: string): Route {
  const p = path.replace(/\/+$/, '') || '/';
  if (p === '/' || p === '/flows') return { name: 'flows' };
  if (p === '/flows/new') return { name: 'editor', id: null };
  let m = /^\/flows\/([^/]+)$/.exec(p);
  if (m) return { name: 'editor', id: decodeURIComponent(m[1]) };
  if (p === '/runs') return { name: 'runs' };
  m = /^\/runs\/([^/]+)$/.exec(p);
  if (m) return { name: 'run', id: decodeURIComponent(m[1]) };
  if (p === '/dashboard') return { name: 'dashboard' };
  if (p === '/templates') return { name: 'templates' };
  if (p === '/settings') return { name: 'settings' };
  if (p === '/keys') return { name: 'keys' };
  if (p === '/audit') return { name: 'audit' };
  if (p === '/setup') return { name: 'setup' };
  return { name: 'notfound' };
}

interface RouterCtx {
  path: string;
  search: string;
  state: unknown;
  navigate: (to: string, state?: unknown, replace?: boolean) => void;
}
const Ctx = createContext<RouterCtx | null>(null);

/** Set by a page with unsaved changes: returns false to stop the navigation. */
let leaveGuard: (() => boolean) | null = null;
export function setLeaveGuard(g: (() => boolean) | null) { leaveGuard = g; }

export function RouterProvider({ children }: { children: ReactNode }) {
  const [loc, setLoc] = useState(() => ({ path: location.pathname, search: location.search, state: history.state as unknown }));
  useEffect(() => {
    const onPop = () => setLoc({ path: location.pathname, search: location.search, state: history.state as unknown });
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const navigate = useCallback((to: string, state?: unknown, replace = false) => {
    if (!replace && leaveGuard && !leaveGuard()) return;
    if (replace) history.replaceState(state ?? null, '', to);
    else history.pushState(state ?? null, '', to);
    const u = new URL(to, location.href);
    setLoc({ path: u.pathname, search: u.search, state: state ?? null });
  }, []);
  return <Ctx.Provider value={{ ...loc, navigate }}>{children}</Ctx.Provider>;
}

export function useRouter(): RouterCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error('useRouter outside RouterProvider');
  return c;
}

/** An <a> that navigates without reloading the page. */
export function Link({ to, children, className, ...rest }: { to: string; children: ReactNode; className?: string } & Omit<React.AnchorHTMLAttributes<HTMLAnchorElement>, 'href'>) {
  const { navigate } = useRouter();
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return <a href={to} onClick={onClick} className={className} {...rest}>{children}</a>;
}
