import { describe, expect, it } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import { WorkerStatus } from '../src/components/WorkerStatus';
import { mockApi, renderApp } from './helpers';

describe('WorkerStatus', () => {
  it('shows "no workers" when the server reports none', async () => {
    mockApi({ 'GET /status': { status: 'no_workers', workers: 0, queued_runs: 3, oldest_queued_seconds: 120 } });
    renderApp(<WorkerStatus />);
    expect((await screen.findByText('No workers')).getAttribute('title')).toContain('queued runs wait');
  });

  it('says it in Chinese too', async () => {
    mockApi({ 'GET /status': { status: 'no_workers', workers: 0, queued_runs: 0, oldest_queued_seconds: 0 } });
    renderApp(<WorkerStatus />, 'zh-CN');
    expect(await screen.findByText('无工作进程')).toBeTruthy();
  });

  it('shows nothing while workers are alive, or when the status cannot be read', async () => {
    for (const route of [{ status: 'ok', workers: 2, queued_runs: 0, oldest_queued_seconds: 0 }, () => ({ status: 503, body: { error: { code: 'unavailable', message: 'x' } } })]) {
      const calls = mockApi({ 'GET /status': route });
      const { unmount } = renderApp(<WorkerStatus />);
      await waitFor(() => expect(calls.some((c) => c.path === '/status')).toBe(true));
      await new Promise((r) => setTimeout(r, 0));
      expect(screen.queryByText('No workers')).toBeNull();
      unmount();
    }
  });
});
