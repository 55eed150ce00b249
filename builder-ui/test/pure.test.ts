import { describe, expect, it } from 'vitest';
import { layeredLayout } from '../src/flow/layout';
import { diffLines, stableJson } from '../src/flow/diff';
import { completionAt, suggest } from '../src/flow/expr';
import { docToGraph, graphToDoc, newNodeId, parseImportedFlow, NODE_ID_RE } from '../src/flow/model';
import { History } from '../src/flow/history';
import { runPath, runStepMap } from '../src/flow/run';
import { en } from '../src/i18n/en';
import { zhCN } from '../src/i18n/zh-CN';
import { detectLang, format } from '../src/i18n';
import type { FlowDoc, Run } from '../src/api/types';
import { SPECS } from './helpers';

const doc: FlowDoc = {
  schema: 'opsflow/v1', name: 'Payment failed', description: 'd',
  nodes: [
    { id: 'trigger', type: 'trigger.event', name: 'T', config: { event_type: 'payment.failed' }, position: { x: 0, y: 0 } },
    { id: 'cond', type: 'logic.condition', name: 'C', config: { expression: 'event.data.amount >= 100' }, position: { x: 0, y: 150 } },
    { id: 'sms', type: 'action.sms', name: 'S', config: { to: '{{ event.data.phone }}' }, position: { x: 0, y: 300 } },
  ],
  edges: [{ from: 'trigger', to: 'cond' }, { from: 'cond', to: 'sms', port: 'true' }],
};

describe('flow document ↔ canvas graph', () => {
  it('round-trips, keeping ports and omitting "out"', () => {
    const g = docToGraph(doc);
    expect(g.edges.map((e) => e.sourceHandle)).toEqual(['out', 'true']);
    expect(graphToDoc({ name: doc.name, description: 'd' }, g.nodes, g.edges)).toEqual(doc);
  });
  it('drops empty config values', () => {
    const g = docToGraph(doc);
    g.nodes[2].data.config = { to: '', credential: undefined, headers: {} };
    const out = graphToDoc({ name: 'x' }, g.nodes, g.edges);
    expect(out.nodes[2].config).toBeUndefined();
  });
  it('makes readable unique node ids', () => {
    expect(newNodeId('action.sms', new Set())).toBe('sms');
    expect(newNodeId('action.sms', new Set(['sms', 'sms_2']))).toBe('sms_3');
    expect(newNodeId('x.9lives', new Set())).toMatch(NODE_ID_RE);
  });
  it('imports a flow document or an API flow with a definition', () => {
    expect(parseImportedFlow(JSON.stringify(doc)).nodes).toHaveLength(3);
    expect(parseImportedFlow(JSON.stringify({ id: 'f', definition: doc })).name).toBe('Payment failed');
    expect(() => parseImportedFlow('{"hello": 1}')).toThrow();
    expect(() => parseImportedFlow('not json')).toThrow();
  });
});

describe('layered layout', () => {
  it('puts each node one row below its deepest parent and true left of false', () => {
    const pos = layeredLayout(
      [{ id: 'sms' }, { id: 'log' }, { id: 'cond' }, { id: 't' }],
      [
        { source: 't', target: 'cond' },
        { source: 'cond', target: 'log', sourceHandle: 'false' },
        { source: 'cond', target: 'sms', sourceHandle: 'true' },
      ],
      (_id, port) => (port === 'true' ? 0 : 1),
    );
    expect(pos.t.y).toBe(0);
    expect(pos.cond.y).toBeGreaterThan(pos.t.y);
    expect(pos.sms.y).toBe(pos.log.y);
    expect(pos.sms.x).toBeLessThan(pos.log.x);
  });
  it('survives cycles', () => {
    const pos = layeredLayout([{ id: 'a' }, { id: 'b' }], [{ source: 'a', target: 'b' }, { source: 'b', target: 'a' }]);
    expect(Object.keys(pos)).toHaveLength(2);
  });
});

describe('diff', () => {
  it('marks added and removed lines', () => {
    const d = diffLines('a\nb\nc', 'a\nc\nd');
    expect(d).toEqual([
      { kind: 'same', text: 'a' }, { kind: 'del', text: 'b' }, { kind: 'same', text: 'c' }, { kind: 'add', text: 'd' },
    ]);
  });
  it('sorts keys so key order is no difference', () => {
    expect(stableJson({ b: 1, a: { d: 1, c: 2 } })).toBe(stableJson({ a: { c: 2, d: 1 }, b: 1 }));
  });
});

describe('expression autocomplete', () => {
  const scope = ['event', 'event.data', 'event.data.amount', 'event.data.customer.phone', 'nodes.assign.assignee.phone'];
  it('finds the path before the cursor in an expression', () => {
    expect(completionAt('x > 1 && event.da', 17, false)).toEqual({ from: 9, to: 17, prefix: 'event.da' });
  });
  it('completes in templates only inside {{ }}', () => {
    expect(completionAt('Hi event.da', 11, true)).toBeNull();
    const t = 'Hi {{ event.da';
    expect(completionAt(t, t.length, true)?.prefix).toBe('event.da');
    expect(completionAt('{{ a }} event', 13, true)).toBeNull();
  });
  it('suggests nearest paths first', () => {
    expect(suggest(scope, 'event.da')).toEqual(['event.data', 'event.data.amount', 'event.data.customer.phone']);
    expect(suggest(scope, 'nodes.')).toEqual(['nodes.assign.assignee.phone']);
  });
});

describe('history', () => {
  it('undoes and redoes', () => {
    const h = new History<number>();
    h.push(1);
    h.push(2);
    expect(h.undo(3)).toBe(2);
    expect(h.undo(2)).toBe(1);
    expect(h.canUndo).toBe(false);
    expect(h.redo(1)).toBe(2);
    h.push(5);
    expect(h.canRedo).toBe(false);
  });
});

describe('run path', () => {
  it('marks the trigger and the steps, with branch ports', () => {
    const run = { steps: [{ node_id: 'cond', status: 'succeeded', port: 'true' }, { node_id: 'sms', status: 'failed' }] } as unknown as Run;
    const nodes = doc.nodes.map((n) => ({ id: n.id, type: n.type }));
    const byType = new Map(SPECS.map((s) => [s.type, s]));
    const m = runStepMap(run, nodes, byType);
    expect(m.get('trigger')).toEqual({ status: 'succeeded', port: 'out' });
    expect(m.get('sms')?.status).toBe('failed');
    expect(runPath(run, nodes, byType)).toBe('trigger → cond (true) → sms');
  });
});

describe('i18n', () => {
  it('has every English key in Chinese, translated, with the same placeholders', () => {
    const vars = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort().join(',');
    for (const k of Object.keys(en) as (keyof typeof en)[]) {
      expect(zhCN[k], k).toBeTruthy();
      expect(vars(zhCN[k]), k).toBe(vars(en[k]));
    }
    expect(Object.keys(zhCN).sort()).toEqual(Object.keys(en).sort());
  });
  it('picks the browser language', () => {
    expect(detectLang({ language: 'zh-CN', languages: ['zh-CN', 'en'] })).toBe('zh-CN');
    expect(detectLang({ language: 'zh-TW' })).toBe('zh-CN');
    expect(detectLang({ language: 'fr-FR', languages: ['fr-FR'] })).toBe('en');
    localStorage.setItem('opsflow.lang', 'en');
    expect(detectLang({ language: 'zh-CN' })).toBe('en');
  });
  it('formats placeholders', () => {
    expect(format('{n} problem(s) in {id}', { n: 2, id: 'x' })).toBe('2 problem(s) in x');
  });
});

describe('diff folding', () => {
  it('keeps context around changes and folds the rest', async () => {
    const { foldContext } = await import('../src/flow/diff');
    const a = Array.from({ length: 20 }, (_, i) => `l${i}`).join('\n');
    const b = a.replace('l10', 'L10');
    const rows = foldContext(diffLines(a, b), 2);
    expect(rows[0]).toEqual({ kind: 'skip', count: 8 });
    expect(rows.filter((r) => r.kind === 'add')).toEqual([{ kind: 'add', text: 'L10' }]);
    expect(rows[rows.length - 1]).toEqual({ kind: 'skip', count: 7 });
  });
});
