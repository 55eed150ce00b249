import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, setCsrfToken, setUnauthorizedHandler, ApiError } from '../src/api/client';

function reply(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('session auth', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    localStorage.clear();
    setCsrfToken('');
    setUnauthorizedHandler(() => {});
  });

  it('sends the CSRF token on writes only, and the session cookie with every call', async () => {
    const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(reply(200, { items: [] })));
    vi.stubGlobal('fetch', fetchMock);
    setCsrfToken('csrf-123');
    await api.teams();
    await api.createTeam('Support');
    expect(fetchMock.mock.calls[0][1].headers['X-CSRF-Token']).toBeUndefined();
    expect(fetchMock.mock.calls[0][1].credentials).toBe('same-origin');
    expect(fetchMock.mock.calls[1][1].headers['X-CSRF-Token']).toBe('csrf-123');
    expect(fetchMock.mock.calls[1][1].headers.Authorization).toBeUndefined();
  });

  it('a 401 signs the app out and rejects with the API error', async () => {
    vi.stubGlobal('fetch', vi.fn().mockImplementation(() => Promise.resolve(reply(401, { error: { code: 'session_expired', message: 'sign in again' } }))));
    const signedOut = vi.fn();
    setUnauthorizedHandler(signedOut);
    const err = await api.teams().catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('session_expired');
    expect(signedOut).toHaveBeenCalledTimes(1);
  });

  it('still sends an API key kept from earlier versions as a bearer token', async () => {
    const fetchMock = vi.fn().mockImplementation(() => Promise.resolve(reply(200, { items: [] })));
    vi.stubGlobal('fetch', fetchMock);
    localStorage.setItem('opsflow.apiToken', 'ofk_abc');
    await api.teams();
    expect(fetchMock.mock.calls[0][1].headers.Authorization).toBe('Bearer ofk_abc');
  });
});
