import { request } from './client';

export type Role = 'admin' | 'editor' | 'operator' | 'viewer';
export const ROLES: Role[] = ['admin', 'editor', 'operator', 'viewer'];

export interface User {
  id: string; email: string; name: string; role: Role; disabled: boolean; locked: boolean;
  last_login_at: string | null; created_at: string;
}
export interface Me { kind: string; name: string; role: Role; permissions: string[]; user?: User; csrf_token?: string }
export interface ApiKey {
  id: string; name: string; prefix: string; role: Role; user_id?: string; service: boolean;
  expires_at: string | null; last_used_at: string | null; revoked_at: string | null; created_at: string; key?: string;
}
export interface AuditEntry {
  id: string; at: string; actor_name: string; actor_kind: string; ip: string; action: string;
  object_type: string; object_id: string; object_name: string; diff: unknown;
}
export interface AuditFilter { actor?: string; action?: string; object_type?: string; object_id?: string; cursor?: string }

export function auditQuery(f: AuditFilter, extra: Record<string, string> = {}): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries({ ...f, ...extra })) if (v) p.set(k, v);
  const s = p.toString();
  return s ? '?' + s : '';
}

/** People, sessions, API keys and the audit log (engine/api/auth.go, users.go). */
export const authApi = {
  me: () => request<Me>('GET', '/auth/me'),
  setupNeeded: () => request<{ needed: boolean }>('GET', '/setup').then((r) => r.needed),
  setup: (token: string, email: string, name: string, password: string) => request<User>('POST', '/setup', { token, email, name, password }),
  login: (email: string, password: string) => request<{ user: User; csrf_token: string }>('POST', '/auth/login', { email, password }),
  logout: () => request<void>('POST', '/auth/logout'),
  users: () => request<{ items: User[] }>('GET', '/users').then((r) => r.items ?? []),
  createUser: (u: { email: string; name: string; role: Role; password: string }) => request<User>('POST', '/users', u),
  updateUser: (id: string, change: { role?: Role; disabled?: boolean; name?: string }) => request<User>('PATCH', `/users/${id}`, change),
  resetPassword: (id: string, password: string) => request<void>('POST', `/users/${id}/password`, { password }),
  keys: () => request<{ items: ApiKey[] }>('GET', '/keys').then((r) => r.items ?? []),
  createKey: (k: { name: string; role?: Role; service?: boolean; expires_at?: string }) => request<ApiKey>('POST', '/keys', k),
  revokeKey: (id: string) => request<void>('DELETE', `/keys/${id}`),
  audit: (f: AuditFilter) => request<{ items: AuditEntry[]; next_cursor: string }>('GET', '/audit' + auditQuery(f, { limit: '100' })),
};
