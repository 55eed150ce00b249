import { useCallback, useRef, useState } from 'react';
import { applyEdgeChanges, applyNodeChanges, type Connection, type EdgeChange, type NodeChange } from '@xyflow/react';
import type { FlowDoc, NodeSpec } from '../api/types';
import { History } from './history';
import { layeredLayout } from './layout';
import {
  DEFAULT_PORT, defaultConfig, docToGraph, makeEdge, newNodeId,
  type FlowEdge, type FlowNode, type NodeData,
} from './model';

export type Graph = { nodes: FlowNode[]; edges: FlowEdge[] };

/** How far right pasted nodes go: past the copied ones' right edge (their width, or a card's). */
export function pasteOffset(nodes: { position: { x: number }; measured?: { width?: number } }[]): number {
  const left = Math.min(...nodes.map((n) => n.position.x));
  const right = Math.max(...nodes.map((n) => n.position.x + (n.measured?.width ?? 190)));
  return right - left + 40;
}

/** Copied nodes live for the whole page, so they can be pasted into another flow. */
let clipboard: Graph | null = null;

const remapEdges = (edges: FlowEdge[], map: Map<string, string>) =>
  edges.map((e) => makeEdge(map.get(e.source)!, e.sourceHandle || DEFAULT_PORT, map.get(e.target)!));

/**
 * The editor's graph: nodes and edges with undo/redo, and every edit the builder offers.
 * Each edit records the graph before it; edits with the same key within a second (typing in
 * one field) are a single undo step.
 */
export function useFlowGraph(byType: Map<string, NodeSpec>, nodeName: (spec: NodeSpec | undefined, type: string) => string) {
  const [nodes, setNodes] = useState<FlowNode[]>([]);
  const [edges, setEdges] = useState<FlowEdge[]>([]);
  const [, setTick] = useState(0);
  const graph = useRef<Graph>({ nodes, edges });
  graph.current = { nodes, edges };
  const history = useRef(new History<Graph>());
  const last = useRef({ key: '', at: 0 });

  const record = useCallback((key = '') => {
    const now = Date.now();
    if (key && key === last.current.key && now - last.current.at < 1000) {
      last.current.at = now;
      return;
    }
    last.current = { key, at: now };
    history.current.push(graph.current);
    setTick((x) => x + 1);
  }, []);

  const apply = (g: Graph | undefined) => {
    if (!g) return;
    graph.current = g; // (for an edit that follows in the same tick, such as the layout on load)
    setNodes(g.nodes);
    setEdges(g.edges);
    last.current = { key: '', at: 0 };
  };
  const undo = useCallback(() => apply(history.current.undo(graph.current)), []);
  const redo = useCallback(() => apply(history.current.redo(graph.current)), []);

  /** Replaces the whole graph: from the server (no undo) or from an older version (undoable). */
  const load = useCallback((doc: FlowDoc, undoable: boolean) => {
    if (undoable) record(); else history.current.clear();
    apply(docToGraph(doc));
  }, [record]);

  /** Adds a node (selected), connected from a node's port when `from` is given: one undo step. */
  const addNode = useCallback((type: string, position: { x: number; y: number }, from?: { source: string; port: string }) => {
    const spec = byType.get(type);
    const { nodes: ns } = graph.current;
    record();
    const node: FlowNode = {
      id: newNodeId(type, new Set(ns.map((n) => n.id))), type: 'opsflow', position, selected: true,
      data: { type, name: nodeName(spec, type), config: defaultConfig(spec) },
    };
    setNodes([...ns.map((n) => (n.selected ? { ...n, selected: false } : n)), node]);
    setEdges((es) => [
      ...es.map((e) => (e.selected ? { ...e, selected: false } : e)),
      ...(from ? [makeEdge(from.source, from.port, node.id)] : []),
    ]);
  }, [byType, nodeName, record]);

  const onNodesChange = useCallback((changes: NodeChange<FlowNode>[]) => {
    if (changes.some((c) => c.type === 'remove')) record('delete');
    setNodes((ns) => applyNodeChanges(changes, ns));
  }, [record]);
  const onEdgesChange = useCallback((changes: EdgeChange<FlowEdge>[]) => {
    if (changes.some((c) => c.type === 'remove')) record('delete');
    setEdges((es) => applyEdgeChanges(changes, es));
  }, [record]);

  const connect = useCallback((source: string, port: string, target: string) => {
    const edge = makeEdge(source, port, target);
    if (graph.current.edges.some((e) => e.id === edge.id)) return;
    record();
    setEdges((es) => [...es, edge]);
  }, [record]);
  const onConnect = useCallback((c: Connection) => {
    if (c.source && c.target) connect(c.source, c.sourceHandle || DEFAULT_PORT, c.target);
  }, [connect]);
  const disconnect = useCallback((edgeId: string) => {
    record();
    setEdges((es) => es.filter((e) => e.id !== edgeId));
  }, [record]);

  const updateNodeData = useCallback((id: string, patch: Partial<NodeData>, key: string) => {
    record(key);
    setNodes((ns) => ns.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...patch } } : n)));
  }, [record]);

  const renameNode = useCallback((from: string, to: string) => {
    record();
    setNodes((ns) => ns.map((n) => (n.id === from ? { ...n, id: to } : n)));
    setEdges((es) => es.map((e) => (e.source !== from && e.target !== from ? e
      : makeEdge(e.source === from ? to : e.source, e.sourceHandle || DEFAULT_PORT, e.target === from ? to : e.target))));
  }, [record]);

  const deleteNodes = useCallback((ids: string[]) => {
    record();
    const gone = new Set(ids);
    setNodes((ns) => ns.filter((n) => !gone.has(n.id)));
    setEdges((es) => es.filter((e) => !gone.has(e.source) && !gone.has(e.target)));
  }, [record]);

  const select = useCallback((id: string | null) => {
    setNodes((ns) => ns.map((n) => ({ ...n, selected: n.id === id })));
  }, []);

  /** Copies the selected nodes and the edges between them; returns how many nodes. */
  const copy = useCallback((): number => {
    const { nodes: ns, edges: es } = graph.current;
    const sel = ns.filter((n) => n.selected);
    if (!sel.length) return 0;
    const ids = new Set(sel.map((n) => n.id));
    clipboard = { nodes: structuredClone(sel), edges: es.filter((e) => ids.has(e.source) && ids.has(e.target)) };
    return sel.length;
  }, []);

  const paste = useCallback(() => {
    const clip = clipboard;
    if (!clip) return;
    const { nodes: ns, edges: es } = graph.current;
    const taken = new Set(ns.map((n) => n.id));
    const map = new Map<string, string>();
    // Beside the copied nodes (to the right of them all), never on top of them.
    const dx = pasteOffset(clip.nodes);
    const pasted = clip.nodes.map((n) => {
      const id = newNodeId(n.id.replace(/_\d+$/, ''), taken);
      taken.add(id);
      map.set(n.id, id);
      return { ...structuredClone(n), id, selected: true, position: { x: n.position.x + dx, y: n.position.y + 30 } };
    });
    const pastedEdges = remapEdges(clip.edges, map);
    record();
    setNodes([...ns.map((n) => ({ ...n, selected: false })), ...pasted]);
    setEdges([...es, ...pastedEdges]);
    // Pasting again offsets further.
    clipboard = { nodes: pasted.map((n) => ({ ...n, selected: false })), edges: pastedEdges };
  }, [record]);

  /** Lays the graph out top to bottom; undoable unless it is part of loading a document. */
  const autoLayout = useCallback((undoable = true) => {
    const { nodes: ns, edges: es } = graph.current;
    const portOrder = (id: string, port: string) => {
      const ports = byType.get(ns.find((x) => x.id === id)?.data.type ?? '')?.ports ?? [];
      return Math.max(0, ports.indexOf(port));
    };
    const pos = layeredLayout(ns, es, portOrder);
    if (undoable) record();
    const laid = ns.map((n) => ({ ...n, position: pos[n.id] ?? n.position }));
    graph.current = { nodes: laid, edges: es };
    setNodes(laid);
    return laid;
  }, [byType, record]);

  return {
    nodes, edges, record, undo, redo, canUndo: history.current.canUndo, canRedo: history.current.canRedo,
    load, addNode, onNodesChange, onEdgesChange, onConnect, connect, disconnect, updateNodeData, renameNode,
    deleteNodes, select, copy, paste, autoLayout,
  };
}
