import { afterEach, describe, expect, it, vi } from 'vitest';
import { fireEvent, screen, cleanup } from '@testing-library/react';
import { ReplayPanel, replayChangesOf } from '../src/components/ReplayPanel';
import { outcomeText, pathMarks } from '../src/flow/replay';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import { format, type MessageKey } from '../src/i18n';
import type { Replay, ReplayResult } from '../src/api/replay';
import { mockApi, renderApp } from './helpers';

afterEach(() => { cleanup(); vi.unstubAllGlobals(); });

const tEn = (k: MessageKey, v?: Record<string, string | number>) => format(en[k], v);
const tZh = (k: MessageKey, v?: Record<string, string | number>) => format(zhCN[k], v);

const changes = [{ code: 'action_added', node: 'sms_small' }, { code: 'action_removed', node: 'sms' }];
const done: Replay = {
  id: 'r1', flow_id: 'f1', version: 2, draft: true, status: 'succeeded', total: 3, done: 3, failing: 0, created_at: '2026-12-06T10:00:00Z',
  summary: [{ outcome: 'unchanged', changes: [{ code: 'unchanged' }], count: 2, text: 'unchanged' },
    { outcome: 'action_added:sms_small,action_removed:sms', changes, count: 1, text: '' }],
  summary_text: '',
};
const result: ReplayResult = {
  event_id: 'ev-000000000150', run_id: 'run1', outcome: 'action_added:sms_small,action_removed:sms', failing: false, changes,
  old_path: [{ node: 't', type: 'trigger.event', status: 'succeeded', port: 'out' }, { node: 'c', type: 'logic.condition', status: 'succeeded', port: 'true' },
    { node: 'sms', type: 'action.sms', status: 'succeeded', port: 'out' }],
  new_path: [{ node: 't', type: 'trigger.event', status: 'succeeded', port: 'out' }, { node: 'c', type: 'logic.condition', status: 'succeeded', port: 'false' },
    { node: 'sms_small', type: 'action.sms', status: 'succeeded', port: 'out' }],
  requests: [{ node_id: 'sms_small', method: 'POST', url: 'https://api.twilio.com/Messages.json', headers: { authorization: '[redacted]' }, body: 'To=%2B1' }],
};

describe('replay helpers', () => {
  it('says outcomes in both languages', () => {
    expect(outcomeText(tEn, changes)).toBe('now also run sms_small, no longer run sms');
    expect(outcomeText(tZh, changes)).toBe('现在还会执行 sms_small，不再执行 sms');
  });
  it('marks what ran only in the replay or only for real', () => {
    const m = pathMarks(result.old_path, result.new_path);
    expect(m.get('c')).toEqual({ status: 'succeeded', port: 'false' });
    expect(m.get('sms_small')?.status).toBe('replay-added');
    expect(m.get('sms')?.status).toBe('replay-removed');
  });
});

describe('ReplayPanel', () => {
  it('starts a replay of the draft, shows progress, the summary and an event on the canvas', async () => {
    let polls = 0;
    const calls = mockApi({
      'GET /flows/f1/replays': { items: [] },
      'POST /flows/f1/replay': { ...done, status: 'running', done: 1, summary: [] },
      'GET /replays/r1': () => ({ body: ++polls > 1 ? done : { ...done, status: 'running', done: 2, summary: [] } }),
      'GET /replays/r1/results': { items: [result] },
    });
    const onMarks = vi.fn();
    renderApp(<ReplayPanel flowId="f1" latestVersion={2} publishedVersion={1} ensureSaved={async () => 'f1'} onMarks={onMarks} />);
    fireEvent.change(screen.getByLabelText('Last N events'), { target: { value: '50' } });
    fireEvent.click(screen.getByRole('button', { name: 'Replay' }));
    await screen.findByText('1 of 3 events', undefined, { timeout: 5000 });
    expect(screen.getByRole('progressbar')).toBeTruthy();
    await screen.findByText('2 unchanged, 1 now also run sms_small, no longer run sms', undefined, { timeout: 10000 });
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ version: 'draft', last: 50 });
    fireEvent.click(await screen.findByRole('button', { name: '00000150' }));
    expect(screen.getByTestId('replay-old-path').textContent).toBe('t → c (true) → sms');
    expect(screen.getByTestId('replay-new-path').textContent).toBe('t → c (false) → sms_small');
    const marks = onMarks.mock.calls.at(-1)?.[0] as Map<string, { status: string }>;
    expect(marks.get('sms')?.status).toBe('replay-removed');
  });

  it('makes publishing ask when the latest replay of the draft found changes', async () => {
    mockApi({ 'GET /flows/f1': { id: 'f1', latest_version: 2 }, 'GET /flows/f1/replays': { items: [done] } });
    expect(await replayChangesOf('f1', tEn)).toBe('2 unchanged, 1 now also run sms_small, no longer run sms');
    mockApi({ 'GET /flows/f1': { id: 'f1', latest_version: 3 }, 'GET /flows/f1/replays': { items: [done] } });
    expect(await replayChangesOf('f1', tEn)).toBeNull();
  });
});
