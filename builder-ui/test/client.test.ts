import { afterEach, describe, expect, it, vi } from 'vitest';
import { api, setTokenPrompt, ApiError } from '../src/api/client';

function reply(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

describe('API tokens', () => {
  afterEach(() => {
    vi.unstubAllGlobals();
    localStorage.clear();
  });

  it('asks for a token on 401, retries with it and keeps it', async () => {
    const fetchMock = vi.fn()
      .mockResolvedValueOnce(reply(401, { error: { code: 'unauthorized', message: 'send a token' } }))
      .mockResolvedValueOnce(reply(200, { node_types: [] }))
      .mockResolvedValueOnce(reply(200, { items: [] }));
    vi.stubGlobal('fetch', fetchMock);
    const prompt = vi.fn(() => ' tok-0123456789abcdef ');
    setTokenPrompt(prompt);
    await expect(api.nodeTypes()).resolves.toEqual([]);
    expect(prompt).toHaveBeenCalledTimes(1);
    expect(fetchMock.mock.calls[0][1].headers.Authorization).toBeUndefined();
    expect(fetchMock.mock.calls[1][1].headers.Authorization).toBe('Bearer tok-0123456789abcdef');
    await api.teams();
    expect(fetchMock.mock.calls[2][1].headers.Authorization).toBe('Bearer tok-0123456789abcdef');
    expect(prompt).toHaveBeenCalledTimes(1);
  });

  it('gives up with the 401 when no token is entered', async () => {
    vi.stubGlobal('fetch', vi.fn().mockResolvedValue(reply(401, { error: { code: 'unauthorized', message: 'send a token' } })));
    setTokenPrompt(() => null);
    const err = await api.teams().catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('unauthorized');
  });
});
