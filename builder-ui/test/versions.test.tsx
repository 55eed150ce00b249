import { describe, expect, it, vi } from 'vitest';
import { fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { useState } from 'react';
import { I18nProvider } from '../src/i18n';
import { compareDocs, comparisonGraph, type VersionComparison } from '../src/flow/compare';
import { ExpressionInput } from '../src/components/fields/ExpressionInput';
import { VersionsPanel } from '../src/components/panel/VersionsPanel';
import { RunHistory } from '../src/components/RunHistory';
import { FieldEditor } from '../src/components/fields/FieldEditor';
import type { FlowDoc, Lang, Run, Team } from '../src/api/types';
import { mockApi, renderApp } from './helpers';

const v1: FlowDoc = {
  schema: 'opsflow/v1', name: 'F',
  nodes: [
    { id: 'start', type: 'trigger.event', config: { event_type: 'payment.failed' } },
    { id: 'check', type: 'logic.condition', name: 'Big?', config: { expression: 'event.data.amount >= 100' } },
    { id: 'old', type: 'action.sms', config: { to: '+1' } },
  ],
  edges: [{ from: 'start', to: 'check' }, { from: 'check', to: 'old', port: 'true' }],
};
const v2: FlowDoc = {
  ...v1,
  nodes: [
    { id: 'start', type: 'trigger.event', config: { event_type: 'payment.failed' }, position: { x: 500, y: 0 } }, // moved only
    { id: 'check', type: 'logic.condition', name: 'Big?', config: { expression: 'event.data.amount >= 200' } },
    { id: 'mail', type: 'action.email', config: { to: 'a@example.com' } },
  ],
  edges: [{ from: 'start', to: 'check' }, { from: 'check', to: 'mail', port: 'true' }],
};

describe('compareDocs', () => {
  it('finds added, removed and changed nodes and edges, field by field; moving is no change', () => {
    const c = compareDocs(v1, v2);
    expect([...c.nodes]).toEqual([['check', 'changed'], ['mail', 'added'], ['old', 'removed']]);
    expect(c.fields.get('check')).toEqual([{ field: 'config.expression', before: 'event.data.amount >= 100', after: 'event.data.amount >= 200' }]);
    expect([...c.edges]).toEqual([['check:true->mail', 'added'], ['check:true->old', 'removed']]);
  });
  it('draws the newer graph with the removed nodes and edges as ghosts', () => {
    const g = comparisonGraph(v1, v2, compareDocs(v1, v2));
    expect(g.nodes.map((n) => n.id)).toEqual(['old', 'start', 'check', 'mail']);
    expect(g.edges.map((e) => [e.id, e.className])).toEqual([
      ['check:true->old', 'edge-removed'], ['start:out->check', undefined], ['check:true->mail', 'edge-added'],
    ]);
  });
});

describe('VersionsPanel', () => {
  function Harness({ lang }: { lang: Lang }) {
    const [c, setC] = useState<VersionComparison | null>(null);
    return (
      <I18nProvider initial={lang}>
        <VersionsPanel flowId="f1" refreshKey={0} onLoad={() => {}} onPublished={() => {}} comparison={c} onCompare={setC} />
        <output data-testid="compared">{c ? `${c.from}->${c.to} ${c.selected ?? ''}` : ''}</output>
      </I18nProvider>
    );
  }
  const routes = {
    'GET /flows/f1/versions': { items: [
      { version: 1, published: true, live: false, published_at: '2026-01-01T00:00:00Z', created_at: '2026-01-01T00:00:00Z', created_by: 'ann@example.com', published_by: 'bo@example.com' },
      { version: 2, published: true, live: true, published_at: '2026-01-02T00:00:00Z', created_at: '2026-01-02T00:00:00Z', created_by: 'cy@example.com', published_by: 'dee@example.com' },
      { version: 3, published: false, live: false, published_at: null, created_at: '2026-01-03T00:00:00Z', created_by: 'ann@example.com' },
    ] },
    'GET /flows/f1/versions/2': { version: 2, definition: v1 },
    'GET /flows/f1/versions/3': { version: 3, definition: v2 },
  };

  it.each([
    ['en' as Lang, ['Published earlier', 'Live', 'Draft (never published)'], 'Saved by cy@example.com', 'Published by dee@example.com', 'Field'],
    ['zh-CN' as Lang, ['曾发布', '线上生效', '草稿（从未发布）'], '由 cy@example.com 保存', '由 dee@example.com 发布', '字段'],
  ])('%s: badges say live, published earlier or never published, with who saved and published; a changed node shows before and after',
    async (lang, badges, saved, published, fieldHead) => {
      mockApi(routes);
      render(<Harness lang={lang} />);
      const item = (v: number) => document.querySelector(`li[data-version="${v}"]`) as HTMLElement;
      await waitFor(() => expect(item(3)).toBeTruthy());
      expect([1, 2, 3].map((v) => item(v).querySelector('.badge')!.textContent)).toEqual(badges);
      expect(item(2).textContent).toContain(saved);
      expect(item(2).textContent).toContain(published);
      expect(item(3).textContent).not.toContain('dee@example.com'); // a draft has no publisher
      // The latest two are compared on the canvas; picking a changed node shows its fields.
      await waitFor(() => expect(screen.getByTestId('compared').textContent).toBe('2->3 '));
      fireEvent.click(screen.getByRole('button', { name: 'check' }));
      expect(screen.getByTestId('compared').textContent).toBe('2->3 check');
      const table = screen.getByRole('table', { name: 'check' });
      expect(within(table).getByText(fieldHead)).toBeTruthy();
      const row = table.querySelector('[data-field-change="config.expression"]')!;
      expect(row.querySelector('.before')!.textContent).toBe('event.data.amount >= 100');
      expect(row.querySelector('.after')!.textContent).toBe('event.data.amount >= 200');
    });
});

describe('RunHistory', () => {
  const run = (history?: Run['history']): Run => ({
    id: 'r', flow_id: 'f', flow_version: 1, event_id: 'e', status: 'cancelled', dry_run: false,
    created_at: '2026-01-01T00:00:00Z', started_at: null, finished_at: null, history,
  });
  it.each([
    ['en' as Lang, 'Started by ann@example.com', 'Cancelled by bo@example.com', 'Started by an event', 'Retried by bo@example.com'],
    ['zh-CN' as Lang, '由 ann@example.com 启动', '由 bo@example.com 取消', '由事件触发', '由 bo@example.com 重试'],
  ])('%s: who started and cancelled, or that an event started it', (lang, started, cancelled, byEvent, retried) => {
    const { unmount } = render(<I18nProvider initial={lang}><RunHistory run={run([
      { action: 'run.started_manually', actor: 'ann@example.com', at: '2026-01-01T00:00:00Z' },
      { action: 'run.cancelled', actor: 'bo@example.com', at: '2026-01-01T00:01:00Z' },
    ])} /></I18nProvider>);
    const items = screen.getAllByRole('listitem').map((li) => li.textContent);
    expect(items[0]).toContain(started);
    expect(items[1]).toContain(cancelled);
    expect(items.join()).not.toContain(byEvent);
    unmount();
    render(<I18nProvider initial={lang}><RunHistory run={run([{ action: 'run.retried', actor: 'bo@example.com', at: '2026-01-01T00:01:00Z' }])} /></I18nProvider>);
    expect(screen.getAllByRole('listitem').map((li) => li.textContent?.split(' ·')[0])).toEqual([byEvent, retried]);
  });
});

describe('ExpressionInput caret', () => {
  it('lands right after an accepted suggestion in the same commit, also mid-text', () => {
    function Harness() {
      const [v, setV] = useState('');
      return (
        <I18nProvider initial="en">
          <ExpressionInput id="e" value={v} onChange={setV} template={false} scope={['event.data.amount']} />
        </I18nProvider>
      );
    }
    const raf = vi.spyOn(window, 'requestAnimationFrame');
    render(<Harness />);
    const ta = screen.getByRole('combobox') as HTMLTextAreaElement;
    ta.focus();
    fireEvent.change(ta, { target: { value: 'event.data.am >= 100', selectionStart: 13 } });
    fireEvent.keyDown(ta, { key: 'Enter' });
    // No frame has run: the caret is already after "amount", not at the end of the text.
    expect(ta.value).toBe('event.data.amount >= 100');
    expect(ta.selectionStart).toBe('event.data.amount'.length);
    expect(raf).not.toHaveBeenCalled();
    raf.mockRestore();
  });
});

describe('a team created inline', () => {
  it('creates the team and its first member, then chooses it', async () => {
    const calls = mockApi({
      'POST /teams': { id: 't9', name: 'Night shift', description: '', members: [] },
      'POST /teams/t9/members': { id: 'm1', name: 'Ana', email: '', phone: '+8613800138000', active: true },
    });
    const created: Team[] = [];
    function Harness() {
      const [v, setV] = useState<unknown>(undefined);
      const [teams, setTeams] = useState<Team[]>([]);
      return (
        <FieldEditor field={{ name: 'team', kind: 'team', title: { en: 'Team', 'zh-CN': '团队' } }} value={v} onChange={setV}
          errors={[]} scope={[]} credentials={[]} teams={teams}
          onTeamCreated={(tm) => { created.push(tm); setTeams((ts) => [...ts, tm]); }} />
      );
    }
    renderApp(<Harness />, 'zh-CN');
    fireEvent.click(screen.getByRole('button', { name: '+ 新建团队' }));
    const form = screen.getByRole('group', { name: '新建团队' });
    fireEvent.click(within(form).getByRole('button', { name: '保存团队' }));
    expect(within(form).getByRole('alert').textContent).toBe('请填写团队名称。');
    fireEvent.change(within(form).getByLabelText(/团队名称/), { target: { value: 'Night shift' } });
    fireEvent.change(within(form).getByLabelText('名称'), { target: { value: 'Ana' } });
    fireEvent.change(within(form).getByLabelText(/电话/), { target: { value: '+8613800138000' } });
    fireEvent.click(within(form).getByRole('button', { name: '保存团队' }));
    await waitFor(() => expect((screen.getByLabelText(/^团队/) as HTMLSelectElement).value).toBe('t9'));
    expect(calls.filter((c) => c.method !== 'GET').map((c) => `${c.method} ${c.path}`)).toEqual(['POST /teams', 'POST /teams/t9/members']);
    expect(created[0].members.map((m) => m.name)).toEqual(['Ana']);
    expect(screen.queryByRole('group', { name: '新建团队' })).toBeNull();
  });
});
