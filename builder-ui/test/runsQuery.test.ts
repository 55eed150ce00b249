import { describe, expect, it } from 'vitest';
import { fromQuery } from '../src/components/dashboard/runsQuery';
import { toRfc3339 } from '../src/components/RunFilters';

describe('runs list filters from the URL (the dashboard links)', () => {
  it('reads flow, status, failed node and since; since survives the trip through the time input', () => {
    const since = '2026-12-05T16:00:00.000Z';
    const q = fromQuery('?' + new URLSearchParams({ flow_id: 'f1', status: 'failed', failed_node: 'sms', since }).toString());
    expect(q.flowId).toBe('f1');
    expect(q.failedNode).toBe('sms');
    expect(q.filter.status).toBe('failed');
    expect(q.filter.until).toBe('');
    expect(toRfc3339(q.filter.since)).toBe(since);
  });
  it('is empty without a query, and ignores a bad time', () => {
    expect(fromQuery('')).toEqual({ filter: { status: '', since: '', until: '' }, flowId: '', failedNode: '' });
    expect(fromQuery('?since=yesterday').filter.since).toBe('');
  });
});
