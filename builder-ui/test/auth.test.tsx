import { afterEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { App } from '../src/App';
import { mockApi, renderApp } from './helpers';

const editor = { kind: 'user', name: 'ed@example.com', role: 'editor', permissions: ['flows:read', 'flows:write', 'self'],
  user: { id: 'u2', email: 'ed@example.com', name: 'Ed', role: 'editor' }, csrf_token: 'csrf-ed' };
const admin = { kind: 'user', name: 'ana@example.com', role: 'admin', permissions: ['flows:read', 'users:write', 'audit:read', 'self'],
  user: { id: 'u1', email: 'ana@example.com', name: 'Ana', role: 'admin' }, csrf_token: 'csrf-ana' };

describe('sign-in and roles', () => {
  afterEach(() => { vi.unstubAllGlobals(); history.replaceState(null, '', '/'); });

  it('signs in, then hides and refuses Settings for an editor', async () => {
    let me: unknown = null;
    const calls = mockApi({
      'GET /auth/me': () => (me ? { body: me } : { status: 401, body: { error: { code: 'unauthorized', message: 'sign in' } } }),
      'GET /setup': { needed: false },
      'POST /auth/login': ({ body }: { body: unknown }) => {
        if ((body as { password: string }).password !== 'right password!') return { status: 401, body: { error: { code: 'bad_login', message: 'wrong email or password' } } };
        me = editor;
        return { body: { user: editor.user, csrf_token: 'csrf-ed' } };
      },
      'GET /flows': { items: [] },
      'GET /node-types': { node_types: [] },
    });
    const user = userEvent.setup();
    renderApp(<App />);
    await user.type(await screen.findByLabelText('Email'), 'ed@example.com');
    await user.type(screen.getByLabelText('Password'), 'wrong');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    expect((await screen.findByRole('alert')).textContent).toContain('wrong email or password');
    await user.clear(screen.getByLabelText('Password'));
    await user.type(screen.getByLabelText('Password'), 'right password!');
    await user.click(screen.getByRole('button', { name: 'Sign in' }));
    const nav = await screen.findByRole('navigation', { name: 'Main navigation' });
    expect(within(nav).queryByText('Settings')).toBeNull();
    expect(within(nav).queryByText('Audit log')).toBeNull();
    expect(screen.getByText(/ed@example.com · Editor/)).toBeTruthy();
    history.pushState(null, '', '/settings');
    window.dispatchEvent(new PopStateEvent('popstate'));
    expect((await screen.findByRole('alert')).textContent).toContain('does not have access');
    expect(calls.some((c) => c.path === '/users')).toBe(false);
  }, 30_000);

  it('an admin creates a user with a role in Settings, with the CSRF token', async () => {
    history.replaceState(null, '', '/settings');
    const calls = mockApi({
      'GET /auth/me': admin,
      'GET /users': { items: [admin.user] },
      'POST /users': ({ body }: { body: unknown }) => ({ status: 201, body: { id: 'u3', ...(body as object) } }),
      'GET /credentials': { items: [] }, 'GET /credential-types': { credential_types: [] }, 'GET /teams': { items: [] },
      'GET /node-types': { node_types: [] },
    });
    const fetchMock = globalThis.fetch as unknown as ReturnType<typeof vi.fn>;
    const user = userEvent.setup();
    renderApp(<App />);
    const form = await screen.findByRole('form', { name: 'New user' });
    await user.type(within(form).getByLabelText('Email'), 'ed@example.com');
    await user.selectOptions(within(form).getByLabelText('Role'), 'editor');
    await user.type(within(form).getByLabelText('Initial password'), 'a long enough password');
    await user.click(within(form).getByRole('button', { name: 'Create user' }));
    await screen.findByText('User ed@example.com created');
    const post = calls.find((c) => c.method === 'POST' && c.path === '/users');
    expect(post?.body).toEqual({ email: 'ed@example.com', name: '', role: 'editor', password: 'a long enough password' });
    const init = fetchMock.mock.calls.find((c) => String(c[0]).endsWith('/users') && c[1]?.method === 'POST')?.[1];
    expect(init.headers['X-CSRF-Token']).toBe('csrf-ana');
  }, 30_000);

  it('shows first-admin setup with the token from the link, in Chinese too', async () => {
    history.replaceState(null, '', '/setup?token=tok123');
    mockApi({
      'GET /auth/me': () => ({ status: 401, body: { error: { code: 'unauthorized', message: 'x' } } }),
      'GET /setup': { needed: true },
    });
    renderApp(<App />, 'zh-CN');
    expect(await screen.findByRole('heading', { name: '创建第一个管理员' })).toBeTruthy();
    expect((screen.getByLabelText('设置令牌') as HTMLInputElement).value).toBe('tok123');
  });
  it('lists your sessions and revokes another one; a new API key is shown once', async () => {
    history.replaceState(null, '', '/keys');
    const calls = mockApi({
      'GET /auth/me': admin,
      'GET /keys': { items: [] },
      'GET /auth/sessions': { items: [
        { id: 's1', ip: '10.0.0.1', user_agent: 'Firefox', created_at: '2026-11-29T10:00:00Z', last_seen_at: '2026-11-29T10:00:00Z', current: true },
        { id: 's2', ip: '10.0.0.2', user_agent: 'Chrome', created_at: '2026-11-28T10:00:00Z', last_seen_at: '2026-11-28T10:00:00Z', current: false },
      ] },
      'DELETE /auth/sessions/s2': () => ({ status: 204 }),
      'POST /keys': ({ body }: { body: unknown }) => ({ status: 201, body: { id: 'k1', prefix: 'ofk_abcdef', role: 'viewer', key: 'ofk_the_whole_key', ...(body as object) } }),
      'GET /node-types': { node_types: [] },
    });
    const user = userEvent.setup();
    renderApp(<App />);
    const row = (await screen.findByText('Chrome')).closest('tr')!;
    expect(within((await screen.findByText('Firefox')).closest('tr')!).queryByRole('button')).toBeNull();
    await user.click(within(row).getByRole('button', { name: 'Revoke' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'DELETE' && c.path === '/auth/sessions/s2')).toBe(true));
    const form = screen.getByRole('form', { name: 'New API key' });
    await user.type(within(form).getByLabelText('Name'), 'crm');
    await user.selectOptions(within(form).getByLabelText('Role'), 'viewer');
    await user.click(within(form).getByRole('button', { name: 'Create key' }));
    expect((await screen.findByTestId('new-key')).textContent).toBe('ofk_the_whole_key');
    const post = calls.find((c) => c.method === 'POST' && c.path === '/keys');
    expect(post?.body).toMatchObject({ name: 'crm', role: 'viewer', service: false });
  }, 30_000);
});
