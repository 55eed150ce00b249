import type { FlowDoc, FlowNodeDoc } from '../api/types';
import { DEFAULT_PORT, docToGraph, edgeId, type FlowEdge, type FlowNode } from './model';

export type ChangeKind = 'added' | 'removed' | 'changed';

/** One property of a node that differs: "name", "type" or a config field's name. */
export interface FieldChange { field: string; before: unknown; after: unknown }

/** What changed between two versions of a flow, node by node and edge by edge (positions are layout, not logic). */
export interface FlowComparison {
  nodes: Map<string, ChangeKind>;
  fields: Map<string, FieldChange[]>;
  edges: Map<string, 'added' | 'removed'>;
}

const same = (a: unknown, b: unknown) => JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  return v;
}

/** The properties of a node that differ between two versions, name and type first, then config fields. */
export function nodeChanges(before: FlowNodeDoc, after: FlowNodeDoc): FieldChange[] {
  const out: FieldChange[] = [];
  if ((before.name ?? '') !== (after.name ?? '')) out.push({ field: 'name', before: before.name, after: after.name });
  if (before.type !== after.type) out.push({ field: 'type', before: before.type, after: after.type });
  const a = before.config ?? {};
  const b = after.config ?? {};
  for (const k of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (!same(a[k], b[k])) out.push({ field: `config.${k}`, before: a[k], after: b[k] });
  }
  return out;
}

const edgeKey = (e: { from: string; to: string; port?: string }) => edgeId(e.from, e.port || DEFAULT_PORT, e.to);

export function compareDocs(from: FlowDoc, to: FlowDoc): FlowComparison {
  const nodes = new Map<string, ChangeKind>();
  const fields = new Map<string, FieldChange[]>();
  const old = new Map((from.nodes ?? []).map((n) => [n.id, n]));
  for (const n of to.nodes ?? []) {
    const o = old.get(n.id);
    if (!o) { nodes.set(n.id, 'added'); continue; }
    const changes = nodeChanges(o, n);
    if (changes.length) { nodes.set(n.id, 'changed'); fields.set(n.id, changes); }
  }
  const kept = new Set((to.nodes ?? []).map((n) => n.id));
  for (const n of from.nodes ?? []) if (!kept.has(n.id)) nodes.set(n.id, 'removed');

  const edges = new Map<string, 'added' | 'removed'>();
  const before = new Set((from.edges ?? []).map(edgeKey));
  const after = new Set((to.edges ?? []).map(edgeKey));
  for (const k of after) if (!before.has(k)) edges.set(k, 'added');
  for (const k of before) if (!after.has(k)) edges.set(k, 'removed');
  return { nodes, fields, edges };
}

/**
 * The canvas of a comparison: the newer version's graph, plus the nodes and edges it no longer
 * has, drawn as ghosts where they were. Edges carry their change as a class.
 */
export function comparisonGraph(from: FlowDoc, to: FlowDoc, c: FlowComparison): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const now = docToGraph(to);
  const then = docToGraph(from);
  // Ghosts first, so that where they overlap the current nodes they are drawn underneath.
  const nodes = [...then.nodes.filter((n) => c.nodes.get(n.id) === 'removed'), ...now.nodes];
  const edges = [...then.edges.filter((e) => c.edges.get(e.id) === 'removed'), ...now.edges]
    .map((e) => (c.edges.has(e.id) ? { ...e, className: `edge-${c.edges.get(e.id)}` } : e));
  return { nodes, edges };
}

/** Two versions being compared in the editor, and the node whose fields are shown. */
export interface VersionComparison {
  from: number;
  to: number;
  fromDoc: FlowDoc;
  toDoc: FlowDoc;
  diff: FlowComparison;
  selected: string | null;
}
