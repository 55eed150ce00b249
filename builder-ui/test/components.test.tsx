import { describe, expect, it, vi } from 'vitest';
import { act, fireEvent, render, screen, waitFor, within } from '@testing-library/react';
import { useState } from 'react';
import { I18nProvider } from '../src/i18n';
import { FieldEditor } from '../src/components/fields/FieldEditor';
import { ExpressionInput } from '../src/components/fields/ExpressionInput';
import { Palette } from '../src/components/Palette';
import { FlowListPage } from '../src/pages/FlowListPage';
import { TemplatesPage } from '../src/pages/TemplatesPage';
import { PropertyPanel } from '../src/components/panel/PropertyPanel';
import type { FieldSpec, Lang, NodeSpec } from '../src/api/types';
import type { FlowNode } from '../src/flow/model';
import { mockApi, renderApp, SPECS } from './helpers';

const lt = (en: string, zh = en + '（中）') => ({ en, 'zh-CN': zh });

function Field({ field, initial, onValue, lang = 'en', errors = [] }: {
  field: FieldSpec; initial?: unknown; onValue?: (v: unknown) => void; lang?: Lang; errors?: string[];
}) {
  const Inner = () => {
    const [v, setV] = useState<unknown>(initial);
    return (
      <FieldEditor
        field={field}
        value={v}
        onChange={(x) => { setV(x); onValue?.(x); }}
        errors={errors}
        scope={['event.data.amount', 'event.data.customer.phone']}
        credentials={[
          { id: 'c1', name: 'Twilio prod', type: 'twilio', created_at: '' },
          { id: 'c2', name: 'CRM token', type: 'http_bearer', created_at: '' },
        ]}
        teams={[{ id: 't1', name: 'Billing', description: '', members: [{ id: 'm', name: 'A', email: '', phone: '', active: true }] }]}
      />
    );
  };
  return <I18nProvider initial={lang}><Inner /></I18nProvider>;
}

describe('FieldEditor', () => {
  it('select shows the options in the current language', () => {
    const onValue = vi.fn();
    render(<Field lang="zh-CN" onValue={onValue} field={{ name: 'level', kind: 'select', title: lt('Level', '级别'),
      options: [{ value: 'info', title: lt('Info', '信息') }, { value: 'warn', title: lt('Warning', '警告') }] }} />);
    const sel = screen.getByLabelText('级别');
    expect(within(sel).getByRole('option', { name: '警告' })).toBeTruthy();
    fireEvent.change(sel, { target: { value: 'warn' } });
    expect(onValue).toHaveBeenLastCalledWith('warn');
  });

  it('bool is a labelled switch', () => {
    const onValue = vi.fn();
    render(<Field onValue={onValue} field={{ name: 'on', kind: 'bool', title: lt('Enabled') }} />);
    fireEvent.click(screen.getByRole('switch', { name: 'Enabled' }));
    expect(onValue).toHaveBeenLastCalledWith(true);
  });

  it('bool toggles when its drawn track is clicked (the track covers the input)', () => {
    const onValue = vi.fn();
    const { container } = render(<Field onValue={onValue} field={{ name: 'on', kind: 'bool', title: lt('Enabled') }} />);
    const track = container.querySelector('.switch > span[aria-hidden]:not(.switch-text)');
    expect(track).toBeTruthy();
    fireEvent.click(track!);
    expect(onValue).toHaveBeenLastCalledWith(true);
  });

  it('number and integer parse and check bounds', () => {
    const onValue = vi.fn();
    render(<Field onValue={onValue} field={{ name: 'n', kind: 'integer', title: lt('Retries'), min: 0, max: 5 }} />);
    const input = screen.getByLabelText('Retries');
    fireEvent.change(input, { target: { value: '3' } });
    expect(onValue).toHaveBeenLastCalledWith(3);
    fireEvent.change(input, { target: { value: '9' } });
    expect(screen.getByRole('alert').textContent).toContain('Maximum 5');
    fireEvent.change(input, { target: { value: '1.5' } });
    expect(screen.getByRole('alert').textContent).toContain('whole number');
  });

  it('json reports a parse error and emits the parsed value', () => {
    const onValue = vi.fn();
    render(<Field onValue={onValue} field={{ name: 'sample', kind: 'json', title: lt('Sample') }} />);
    const ta = screen.getByLabelText('Sample');
    fireEvent.change(ta, { target: { value: '{"amount": ' } });
    expect(screen.getByRole('alert').textContent).toContain('Invalid JSON');
    fireEvent.change(ta, { target: { value: '{"amount": 5}' } });
    expect(onValue).toHaveBeenLastCalledWith({ amount: 5 });
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('keyvalue builds an object from rows', () => {
    const onValue = vi.fn();
    render(<Field onValue={onValue} field={{ name: 'headers', kind: 'keyvalue', title: lt('Headers') }} initial={{ A: '1' }} />);
    fireEvent.click(screen.getByRole('button', { name: /Add row/ }));
    fireEvent.change(screen.getByLabelText('Key 2'), { target: { value: 'X-Id' } });
    fireEvent.change(screen.getByLabelText('Value 2'), { target: { value: '{{ event.id }}' } });
    expect(onValue).toHaveBeenLastCalledWith({ A: '1', 'X-Id': '{{ event.id }}' });
    fireEvent.click(screen.getByRole('button', { name: 'Remove 1' }));
    expect(onValue).toHaveBeenLastCalledWith({ 'X-Id': '{{ event.id }}' });
  });

  it('stringlist edits a list', () => {
    const onValue = vi.fn();
    render(<Field onValue={onValue} field={{ name: 'tags', kind: 'stringlist', title: lt('Tags') }} initial={['a']} />);
    fireEvent.click(screen.getByRole('button', { name: /Add item/ }));
    fireEvent.change(screen.getByLabelText('Item 2'), { target: { value: 'b' } });
    expect(onValue).toHaveBeenLastCalledWith(['a', 'b']);
  });

  it('credential picker lists only the allowed types', () => {
    render(<Field field={{ name: 'credential', kind: 'credential', title: lt('Account'), credential_types: ['twilio'] }} />);
    const sel = screen.getByLabelText('Account');
    expect(within(sel).queryByText(/Twilio prod/)).toBeTruthy();
    expect(within(sel).queryByText(/CRM token/)).toBeNull();
  });

  it('team picker lists teams with member counts', () => {
    render(<Field field={{ name: 'team', kind: 'team', title: lt('Team') }} />);
    expect(within(screen.getByLabelText('Team')).getByText(/Billing · 1 member/)).toBeTruthy();
  });

  it('duration is checked', () => {
    render(<Field field={{ name: 'due', kind: 'duration', title: lt('Due in') }} />);
    fireEvent.change(screen.getByLabelText('Due in'), { target: { value: '4 hours' } });
    expect(screen.getByRole('alert').textContent).toContain('30s');
    fireEvent.change(screen.getByLabelText('Due in'), { target: { value: '1h30m' } });
    expect(screen.queryByRole('alert')).toBeNull();
  });

  it('shows the server problems under the field', () => {
    render(<Field errors={['unknown field amont']} field={{ name: 'expression', kind: 'expr', title: lt('Condition') }} />);
    expect(screen.getByRole('alert').textContent).toBe('unknown field amont');
    expect(screen.getByLabelText('Condition').getAttribute('aria-invalid')).toBe('true');
  });
});

describe('ExpressionInput', () => {
  function Harness({ template = false }: { template?: boolean }) {
    const [v, setV] = useState('');
    return (
      <I18nProvider initial="en">
        <label htmlFor="e">Expr</label>
        <ExpressionInput id="e" value={v} onChange={setV} template={template}
          scope={['event', 'event.data', 'event.data.amount', 'event.data.customer.phone']} />
        <output data-testid="value">{v}</output>
      </I18nProvider>
    );
  }
  it('suggests scope paths and accepts with Enter', () => {
    render(<Harness />);
    const ta = screen.getByRole('combobox');
    fireEvent.change(ta, { target: { value: 'event.data.am', selectionStart: 13 } });
    const opts = screen.getAllByRole('option');
    expect(opts.map((o) => o.textContent)).toEqual(['event.data.amount']);
    fireEvent.keyDown(ta, { key: 'Enter' });
    expect(screen.getByTestId('value').textContent).toBe('event.data.amount');
  });
  it('in templates, suggests only inside {{ }}', () => {
    render(<Harness template />);
    const ta = screen.getByRole('combobox');
    fireEvent.change(ta, { target: { value: 'Hi event.d', selectionStart: 10 } });
    expect(screen.queryAllByRole('option')).toHaveLength(0);
    fireEvent.change(ta, { target: { value: 'Hi {{ event.data.c', selectionStart: 18 } });
    expect(screen.getAllByRole('option').map((o) => o.textContent)).toEqual(['event.data.customer.phone']);
    fireEvent.keyDown(ta, { key: 'Escape' });
    expect(screen.queryAllByRole('option')).toHaveLength(0);
  });
});

describe('Palette', () => {
  it('is built from GET /node-types, grouped, including types it has never seen', async () => {
    const custom: NodeSpec = { type: 'action.fax', category: 'action', title: lt('Send fax', '发送传真'), description: lt('Faxes'), fields: [], ports: ['out'] };
    mockApi({ 'GET /node-types': { node_types: [...SPECS, custom] } });
    const onAdd = vi.fn();
    renderApp(<Palette onAdd={onAdd} />, 'zh-CN');
    const fax = await screen.findByRole('button', { name: '添加 发送传真' });
    const actions = screen.getByRole('region', { name: '动作' });
    expect(within(actions).getByText('发送传真')).toBeTruthy();
    expect(within(screen.getByRole('region', { name: '触发器' })).getByText('事件触发')).toBeTruthy();
    fireEvent.click(fax);
    expect(onAdd).toHaveBeenCalledWith('action.fax');
    fireEvent.change(screen.getByLabelText('筛选节点'), { target: { value: 'sms' } });
    expect(screen.queryByText('发送传真')).toBeNull();
    expect(screen.getByText('发送短信')).toBeTruthy();
  });
});

describe('FlowListPage', () => {
  const flows = [
    { id: 'f1', name: 'Payment failed', description: '', enabled: true, latest_version: 2, published_version: 1, trigger_type: 'trigger.event',
      event_type: 'payment.failed', created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-02T00:00:00Z',
      last_run: { id: 'r1', status: 'failed', created_at: '2026-01-02T00:00:00Z' } },
    { id: 'f2', name: 'New lead', description: '', enabled: false, latest_version: 1, published_version: 0, trigger_type: '', event_type: '',
      created_at: '2026-01-01T00:00:00Z', updated_at: '2026-01-01T00:00:00Z', last_run: null },
  ];
  it('lists flows with status, last run and an enable switch', async () => {
    const calls = mockApi({
      'GET /node-types': { node_types: SPECS },
      'GET /flows': { items: flows, next_cursor: '' },
      'PATCH /flows/f2': { ...flows[1], enabled: true },
    });
    renderApp(<FlowListPage />);
    await screen.findByText('Payment failed');
    expect(screen.getByText('Published v1 · draft v2')).toBeTruthy();
    expect(screen.getByText('Draft')).toBeTruthy();
    expect(screen.getByText('Failed')).toBeTruthy();
    const sw = screen.getByRole('switch', { name: 'Enable flow New lead' }) as HTMLInputElement;
    expect(sw.checked).toBe(false);
    await act(async () => { fireEvent.click(sw); });
    expect(calls.find((c) => c.method === 'PATCH')?.body).toEqual({ enabled: true });
    await waitFor(() => expect(sw.checked).toBe(true));
  });
  it('asks before deleting', async () => {
    const calls = mockApi({ 'GET /node-types': { node_types: SPECS }, 'GET /flows': { items: flows }, 'DELETE /flows/f1': { status: 204 } });
    renderApp(<FlowListPage />);
    await screen.findByText('Payment failed');
    fireEvent.click(screen.getByRole('button', { name: 'Delete: Payment failed' }));
    const dialog = screen.getByRole('alertdialog');
    await act(async () => { fireEvent.click(within(dialog).getByRole('button', { name: 'Delete' })); });
    expect(calls.some((c) => c.method === 'DELETE' && c.path === '/flows/f1')).toBe(true);
    await waitFor(() => expect(screen.queryByText('Payment failed')).toBeNull());
  });
  it('shows an empty state', async () => {
    mockApi({ 'GET /node-types': { node_types: SPECS }, 'GET /flows': { items: [] } });
    renderApp(<FlowListPage />, 'zh-CN');
    expect(await screen.findByText(/还没有流程/)).toBeTruthy();
  });
});

describe('TemplatesPage', () => {
  it('shows an empty state when the endpoint 404s', async () => {
    mockApi({ 'GET /node-types': { node_types: SPECS } });
    renderApp(<TemplatesPage />);
    expect(await screen.findByText(/No templates are available yet/)).toBeTruthy();
  });
});

describe('PropertyPanel', () => {
  it('renders the fields of the selected node type and its problems', async () => {
    mockApi({ 'GET /node-types': { node_types: SPECS } });
    const node: FlowNode = { id: 'cond', type: 'opsflow', position: { x: 0, y: 0 }, selected: true,
      data: { type: 'logic.condition', name: 'Big amount', config: { expression: 'event.data.amont > 1' } } };
    const onNodeData = vi.fn();
    const noop = () => {};
    renderApp(
      <PropertyPanel
        nodes={[node]} edges={[]} selected={[node]} meta={{ name: 'f', description: '' }}
        problems={[{ node_id: 'cond', field: 'config.expression', code: 'invalid_field', message: 'unknown field amont' }]}
        scopes={{ cond: ['event.data.amount'] }} credentials={[]} teams={[]}
        onMeta={noop} onNodeData={onNodeData} onRename={noop} onDelete={noop} onSelect={noop} onConnectPort={noop} onDisconnect={noop}
      />,
    );
    const expr = await screen.findByLabelText(/Condition/);
    expect((expr as HTMLTextAreaElement).value).toBe('event.data.amont > 1');
    expect(screen.getByRole('alert').textContent).toContain('unknown field amont');
    fireEvent.change(expr, { target: { value: 'event.data.amount > 1' } });
    expect(onNodeData).toHaveBeenCalledWith('cond', { config: { expression: 'event.data.amount > 1' } }, 'cond:config.expression');
    expect(screen.getByText('true')).toBeTruthy();
    expect(screen.getByText('false')).toBeTruthy();
  });
});

describe('Template gallery', () => {
  it('creates a flow from a template, mapping credentials and teams', async () => {
    const tpl = {
      template: 'opsflow-template/v1', id: 'lead', title: lt('New lead', '新线索'), description: lt('Assigns leads'), category: 'sales',
      credentials: [{ name: 'twilio', type: 'twilio', description: lt('SMS account') }],
      teams: [{ name: 'Sales', description: lt('Takes leads') }],
      parameters: [{ name: 'min_budget', title: lt('Min budget'), type: 'number', default: 100 }],
      flow: { schema: 'opsflow/v1', name: 'x', nodes: [{ id: 'a', type: 'trigger.event' }], edges: [] },
    };
    const calls = mockApi({
      'GET /node-types': { node_types: SPECS },
      'GET /templates': { items: [tpl] },
      'GET /credentials': { items: [{ id: 'c9', name: 'Twilio prod', type: 'twilio', created_at: '' }] },
      'GET /teams': { items: [{ id: 't9', name: 'Sales', description: '', members: [] }] },
      'POST /templates/import': () => ({ status: 201, body: { id: 'f-new' } }),
    });
    renderApp(<TemplatesPage />);
    fireEvent.click(await screen.findByRole('button', { name: 'Use template: New lead' }));
    const dialog = screen.getByRole('dialog');
    await waitFor(() => expect((within(dialog).getByLabelText(/SMS account/) as HTMLSelectElement).value).toBe('c9'));
    await waitFor(() => expect((within(dialog).getByLabelText(/^Sales/) as HTMLSelectElement).value).toBe('t9'));
    fireEvent.change(within(dialog).getByLabelText('Min budget'), { target: { value: '5000' } });
    await act(async () => { fireEvent.click(within(dialog).getByRole('button', { name: 'Create flow' })); });
    const post = calls.find((c) => c.method === 'POST');
    expect(post?.body).toEqual({ template_id: 'lead', name: 'New lead', parameters: { min_budget: 5000 }, credentials: { twilio: 'c9' }, teams: { Sales: 't9' } });
    await waitFor(() => expect(location.pathname).toBe('/flows/f-new'));
  });
});
