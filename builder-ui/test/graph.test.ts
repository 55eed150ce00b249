import { describe, expect, it } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import { useFlowGraph } from '../src/flow/useFlowGraph';
import { graphToDoc } from '../src/flow/model';
import { SPECS } from './helpers';

const byType = new Map(SPECS.map((s) => [s.type, s]));
const name = (_s: unknown, type: string) => type;
const setup = () => renderHook(() => useFlowGraph(byType, name));

describe('useFlowGraph', () => {
  it('adds nodes with defaults, connects, renames and keeps edges in step', () => {
    const { result } = setup();
    act(() => result.current.addNode('logic.condition', { x: 0, y: 0 }));
    act(() => result.current.addNode('action.sms', { x: 0, y: 100 }));
    act(() => result.current.connect('condition', 'true', 'sms'));
    act(() => result.current.connect('condition', 'true', 'sms')); // duplicate: ignored
    expect(result.current.edges).toHaveLength(1);
    act(() => result.current.renameNode('sms', 'notify'));
    const doc = graphToDoc({ name: 'x' }, result.current.nodes, result.current.edges);
    expect(doc.edges).toEqual([{ from: 'condition', to: 'notify', port: 'true' }]);
    expect(result.current.nodes.find((n) => n.id === 'notify')?.selected).toBe(true);
  });

  it('copies and pastes a selection with fresh ids and the edges inside it', () => {
    const { result } = setup();
    act(() => result.current.addNode('logic.condition', { x: 0, y: 0 }));
    act(() => result.current.addNode('action.sms', { x: 0, y: 100 }));
    act(() => result.current.connect('condition', 'false', 'sms'));
    act(() => result.current.onNodesChange(result.current.nodes.map((n) => ({ type: 'select', id: n.id, selected: true }))));
    let copied = 0;
    act(() => { copied = result.current.copy(); });
    expect(copied).toBe(2);
    act(() => result.current.paste());
    expect(result.current.nodes.map((n) => n.id)).toEqual(['condition', 'sms', 'condition_2', 'sms_2']);
    expect(result.current.edges.map((e) => e.id)).toContain('condition_2:false->sms_2');
    // Beside the copies (two 190 px cards at x 0, plus a gap), not on top of them.
    expect(result.current.nodes.find((n) => n.id === 'sms_2')?.position).toEqual({ x: 230, y: 130 });
  });

  it('undoes typing in one field as a single step', () => {
    const { result } = setup();
    act(() => result.current.addNode('logic.condition', { x: 0, y: 0 }));
    for (const text of ['e', 'ev', 'eve']) {
      act(() => result.current.updateNodeData('condition', { config: { expression: text } }, 'condition:config.expression'));
    }
    expect(result.current.nodes[0].data.config.expression).toBe('eve');
    act(() => result.current.undo());
    expect(result.current.nodes[0].data.config.expression).toBeUndefined();
    act(() => result.current.undo());
    expect(result.current.nodes).toHaveLength(0);
    expect(result.current.canUndo).toBe(false);
    act(() => result.current.redo());
    act(() => result.current.redo());
    expect(result.current.nodes[0].data.config.expression).toBe('eve');
  });

  it('deletes nodes with their edges and lays out top-down', () => {
    const { result } = setup();
    act(() => result.current.addNode('trigger.event', { x: 500, y: 500 }));
    act(() => result.current.addNode('logic.condition', { x: 0, y: 0 }));
    act(() => result.current.addNode('action.sms', { x: 0, y: 0 }));
    act(() => result.current.connect('event', 'out', 'condition'));
    act(() => result.current.connect('condition', 'true', 'sms'));
    act(() => result.current.autoLayout());
    const y = Object.fromEntries(result.current.nodes.map((n) => [n.id, n.position.y]));
    expect(y.event).toBeLessThan(y.condition);
    expect(y.condition).toBeLessThan(y.sms);
    act(() => result.current.deleteNodes(['condition']));
    expect(result.current.nodes.map((n) => n.id)).toEqual(['event', 'sms']);
    expect(result.current.edges).toHaveLength(0);
  });
});
