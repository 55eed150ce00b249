import { createContext, useCallback, useContext, useEffect, useState, type ReactNode } from 'react';
import { ApiError, setCsrfToken, setUnauthorizedHandler } from './api/client';
import { authApi, type Me } from './api/auth';

type Status = 'loading' | 'signed-out' | 'setup' | 'signed-in';

interface AuthCtx {
  status: Status;
  me: Me | null;
  /** Whether the signed-in role has a permission (the server enforces it regardless). */
  can: (perm: string) => boolean;
  login: (email: string, password: string) => Promise<void>;
  logout: () => Promise<void>;
  refresh: () => Promise<void>;
}
const Ctx = createContext<AuthCtx | null>(null);

/** Who is signed in: loads GET /auth/me, falls back to sign-in (or first-admin setup) on 401. */
export function AuthProvider({ children }: { children: ReactNode }) {
  const [status, setStatus] = useState<Status>('loading');
  const [me, setMe] = useState<Me | null>(null);
  const refresh = useCallback(async () => {
    try {
      const m = await authApi.me();
      setCsrfToken(m.csrf_token ?? '');
      setMe(m);
      setStatus('signed-in');
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 401) throw e;
      setMe(null);
      setCsrfToken('');
      const needed = await authApi.setupNeeded().catch(() => false);
      setStatus(needed ? 'setup' : 'signed-out');
    }
  }, []);
  useEffect(() => {
    setUnauthorizedHandler(() => { setMe(null); setStatus('signed-out'); });
    void refresh();
  }, [refresh]);
  const login = useCallback(async (email: string, password: string) => {
    const r = await authApi.login(email, password);
    setCsrfToken(r.csrf_token);
    await refresh();
  }, [refresh]);
  const logout = useCallback(async () => {
    await authApi.logout().catch(() => undefined);
    setCsrfToken('');
    setMe(null);
    setStatus('signed-out');
  }, []);
  const can = useCallback((perm: string) => !!me?.permissions?.includes(perm), [me]);
  return <Ctx.Provider value={{ status, me, can, login, logout, refresh }}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthCtx {
  const c = useContext(Ctx);
  if (!c) throw new Error('useAuth outside AuthProvider');
  return c;
}

/** The auth context where a page may be rendered without one (component tests). */
export function useMaybeAuth(): AuthCtx | null {
  return useContext(Ctx);
}
