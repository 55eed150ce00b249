import { describe, expect, it } from 'vitest';
import { act, render } from '@testing-library/react';
import { useNotify } from '../src/components/Toasts';
import { useRouter } from '../src/router';
import { mockApi, renderApp } from './helpers';
import { problemMessage } from '../src/i18n/problems';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import { restorableDraft } from '../src/flow/localDraft';
import { needsLayout } from '../src/flow/layout';
import { shortRunId } from '../src/flow/run';
import { fieldShown, nodeSummary } from '../src/flow/model';
import { pasteOffset } from '../src/flow/useFlowGraph';
import { webhookCommands } from '../src/components/panel/WebhookBox';
import { Markdown } from '../src/components/Markdown';
import type { FlowDoc, NodeSpec, Problem } from '../src/api/types';

const title = (name: string) => ({ expression: '条件表达式', message: '消息' } as Record<string, string>)[name];

describe('problemMessage', () => {
  it('says a required field in Chinese with the field title', () => {
    const p: Problem = { node_id: 'l', field: 'config.message', code: 'required', message: 'Message is required', params: { rule: 'field', field: 'message' } };
    expect(problemMessage(p, zhCN, 'zh-CN', title)).toBe('请填写“消息”');
    expect(problemMessage(p, en, 'en', () => 'Message')).toBe('Message is required');
  });
  it('translates the kinds in a type problem and keeps values', () => {
    const p: Problem = { code: 'invalid_field', message: 'x', params: { rule: 'type', field: 'message', want: 'string', got: 'number' } };
    expect(problemMessage(p, zhCN, 'zh-CN', title)).toBe('“消息”必须是文本，而不是数字');
  });
  it('uses the node check’s own Chinese text, else the English message', () => {
    const p: Problem = { code: 'invalid_field', message: 'event type must not contain spaces', params: { rule: 'check', field: 'event_type', zh: '事件类型不能包含空格' } };
    expect(problemMessage(p, zhCN, 'zh-CN')).toBe('事件类型不能包含空格');
    expect(problemMessage(p, en, 'en')).toBe('event type must not contain spaces');
  });
  it('falls back to the server message for an unknown code', () => {
    expect(problemMessage({ code: 'brand_new', message: 'Something new' }, zhCN, 'zh-CN')).toBe('Something new');
  });
  it('has a Chinese text for every code the compiler reports', () => {
    const codes = ['unsupported_schema', 'required.flow_name', 'required.no_nodes', 'required.field', 'too_many.nodes', 'too_many.edges', 'invalid_id',
      'duplicate_id', 'unknown_node_type', 'no_trigger', 'many_triggers', 'dangling_edge.from', 'dangling_edge.to', 'cycle.self', 'cycle.nodes',
      'edge_into_trigger', 'missing_port', 'unknown_port', 'duplicate_edge', 'unreachable', 'unknown_field', 'invalid_field.type',
      'invalid_field.too_long', 'invalid_field.no_credential', 'invalid_field.credential_type', 'invalid_field.no_team', 'invalid_field.whole',
      'invalid_field.option', 'invalid_field.duration', 'invalid_field.min', 'invalid_field.max', 'invalid_expression.empty',
      'invalid_expression.too_long', 'invalid_expression.compile', 'invalid_expression.result_type', 'invalid_expression.unclosed'];
    for (const c of codes) {
      const [code, rule] = c.split('.');
      const text = problemMessage({ code, message: 'ENGLISH', params: rule ? { rule } : {} }, zhCN, 'zh-CN');
      expect(text, c).not.toBe('ENGLISH');
      expect(text, c).toMatch(/[\u4e00-\u9fff]/);
    }
  });
});

describe('restorableDraft', () => {
  const server: FlowDoc = { schema: 'opsflow/v1', name: 'fixed', nodes: [], edges: [] };
  const typo: FlowDoc = { ...server, name: 'typo' };
  it('does not offer a draft older than the saved version (it would undo the fix)', () => {
    expect(restorableDraft({ saved_at: '2026-11-29T10:00:00Z', doc: typo }, server, '2026-11-29T10:00:05Z')).toBeNull();
  });
  it('offers a newer, different draft', () => {
    expect(restorableDraft({ saved_at: '2026-11-29T10:00:10Z', doc: typo }, server, '2026-11-29T10:00:05Z')?.doc.name).toBe('typo');
    expect(restorableDraft({ saved_at: '2026-11-29T10:00:10Z', doc: server }, server, '2026-11-29T10:00:05Z')).toBeNull();
  });
});

describe('needsLayout', () => {
  const n = (id: string, x: number, y: number) => ({ id, position: { x, y } });
  it('is true for left-to-right flows and missing positions', () => {
    expect(needsLayout({ nodes: [n('a', 0, 100), n('b', 240, 100)], edges: [{ from: 'a', to: 'b' }] })).toBe(true);
    expect(needsLayout({ nodes: [{ id: 'a' }, n('b', 0, 150)], edges: [] })).toBe(true);
  });
  it('is false for top-to-bottom flows', () => {
    expect(needsLayout({ nodes: [n('a', 0, 0), n('b', 0, 150), n('c', 260, 150)], edges: [{ from: 'a', to: 'b' }, { from: 'a', to: 'c' }] })).toBe(false);
  });
});

describe('small helpers', () => {
  it('shortRunId tells apart runs of the same minute (UUIDv7 share their start)', () => {
    const a = '019ad0f2-6a1b-7c3d-8e4f-0123456789ab', b = '019ad0f2-6a1b-7c3d-8e4f-fedcba987654';
    expect(shortRunId(a)).not.toBe(shortRunId(b));
    expect(shortRunId(a)).toBe('456789ab');
  });
  it('pasteOffset moves pasted nodes past the copied ones', () => {
    expect(pasteOffset([{ position: { x: 100 } }, { position: { x: 300 }, measured: { width: 200 } }])).toBe(440);
  });
  it('webhookCommands gives a curl line with the sample, and the Stripe CLI for Stripe', () => {
    const url = 'http://h/api/v1/hooks/f1';
    const cmds = webhookCommands(url, 'stripe', { name: "O'Brien" });
    expect(cmds.map((c) => c.label)).toEqual(['stripe', 'curl']);
    expect(cmds[0].text).toBe(`stripe listen --forward-to '${url}'`);
    expect(cmds[1].text).toBe(`curl -X POST '${url}' -H 'Content-Type: application/json' -d '{"name":"O'\\''Brien"}'`);
    expect(webhookCommands(url, 'none', undefined).map((c) => c.label)).toEqual(['curl']);
  });
});

const webhookSpec = {
  type: 'trigger.webhook', category: 'trigger', title: { en: 'Webhook', 'zh-CN': 'Webhook' }, description: { en: '', 'zh-CN': '' }, ports: ['out'],
  fields: [
    { name: 'verify', kind: 'select', default: 'none', title: { en: 'Verify', 'zh-CN': '校验' } },
    { name: 'hmac_header', kind: 'string', show_if: { verify: ['hmac'] }, title: { en: 'HMAC header', 'zh-CN': 'HMAC 请求头' } },
  ],
} as NodeSpec;

describe('fields and summaries', () => {
  it('fieldShown hides HMAC settings unless HMAC is chosen (the default counts)', () => {
    const f = webhookSpec.fields[1];
    expect(fieldShown(f, {}, webhookSpec)).toBe(false);
    expect(fieldShown(f, { verify: 'stripe' }, webhookSpec)).toBe(false);
    expect(fieldShown(f, { verify: 'hmac' }, webhookSpec)).toBe(true);
  });
  it('nodeSummary shows the condition, the recipient, a team by name', () => {
    const spec = (fields: string[], kind = 'template') => ({ fields: fields.map((name) => ({ name, kind: name === 'team' ? 'team' : kind })) } as unknown as NodeSpec);
    expect(nodeSummary({ expression: 'event.data.amount >= 100' }, spec(['expression'], 'expr'))).toBe('event.data.amount >= 100');
    expect(nodeSummary({ body: 'hi', to: '{{ event.data.phone }}' }, spec(['body', 'to']))).toBe('{{ event.data.phone }}');
    expect(nodeSummary({ team: 't1', subject: 's' }, spec(['team', 'subject']), (id) => (id === 't1' ? 'Billing' : undefined))).toBe('Billing');
    expect(nodeSummary({}, spec(['to']))).toBe('');
  });
});

describe('Markdown', () => {
  it('renders code, bold and lists as elements, never as HTML', () => {
    const { container } = render(<Markdown text={'Use `event.data` and **care**.\n\n- `a`: one\n- <b>two</b>'} />);
    expect(container.querySelector('p code')?.textContent).toBe('event.data');
    expect(container.querySelector('p strong')?.textContent).toBe('care');
    expect(container.querySelectorAll('li')).toHaveLength(2);
    expect(container.querySelector('b')).toBeNull();
    expect(container.textContent).not.toContain('`');
  });
});


describe('toasts', () => {
  it('drop an error raised on a page when the user leaves it, keep an ok one', async () => {
    mockApi({});
    let notify: ReturnType<typeof useNotify> = () => {};
    let navigate: (to: string) => void = () => {};
    function Probe() {
      notify = useNotify();
      navigate = useRouter().navigate;
      return null;
    }
    const { container } = renderApp(<Probe />);
    act(() => { notify('Could not save', 'error'); notify('Copied 1 node'); });
    expect(container.ownerDocument.body.textContent).toContain('Could not save');
    act(() => navigate('/runs'));
    expect(container.ownerDocument.body.textContent).not.toContain('Could not save');
    expect(container.ownerDocument.body.textContent).toContain('Copied 1 node');
  });
});
