import type { Edge, Node } from '@xyflow/react';
import type { FieldSpec, FlowDoc, FlowEdgeDoc, NodeSpec } from '../api/types';

/** What a canvas node carries: the flow document's node minus id and position. */
export type NodeData = {
  type: string;
  name: string;
  config: Record<string, unknown>;
};
export type FlowNode = Node<NodeData, 'opsflow'>;
export type FlowEdge = Edge;

export const NODE_ID_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
export const DEFAULT_PORT = 'out';

export function edgeId(source: string, port: string, target: string): string {
  return `${source}:${port}->${target}`;
}

export function docToGraph(doc: FlowDoc): { nodes: FlowNode[]; edges: FlowEdge[] } {
  const nodes: FlowNode[] = (doc.nodes ?? []).map((n, i) => ({
    id: n.id,
    type: 'opsflow',
    position: n.position ?? { x: 0, y: i * 140 },
    data: { type: n.type, name: n.name ?? '', config: { ...(n.config ?? {}) } },
  }));
  const edges: FlowEdge[] = (doc.edges ?? []).map((e) => makeEdge(e.from, e.port || DEFAULT_PORT, e.to));
  return { nodes, edges };
}

export function makeEdge(source: string, port: string, target: string): FlowEdge {
  return {
    id: edgeId(source, port, target),
    source,
    target,
    sourceHandle: port,
    targetHandle: 'in',
  };
}

/** Drops empty config values so the document stays tidy. */
export function cleanConfig(config: Record<string, unknown>): Record<string, unknown> | undefined {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(config)) {
    if (v === undefined || v === null || v === '') continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && !Array.isArray(v) && Object.keys(v as object).length === 0) continue;
    out[k] = v;
  }
  return Object.keys(out).length ? out : undefined;
}

export function graphToDoc(
  meta: { name: string; description?: string },
  nodes: FlowNode[],
  edges: FlowEdge[],
): FlowDoc {
  const docEdges: FlowEdgeDoc[] = edges.map((e) => {
    const port = e.sourceHandle || DEFAULT_PORT;
    return port === DEFAULT_PORT ? { from: e.source, to: e.target } : { from: e.source, to: e.target, port };
  });
  return {
    schema: 'opsflow/v1',
    name: meta.name,
    description: meta.description ?? '',
    nodes: nodes.map((n) => {
      const config = cleanConfig(n.data.config);
      return {
        id: n.id,
        type: n.data.type,
        name: n.data.name,
        ...(config ? { config } : {}),
        position: { x: Math.round(n.position.x), y: Math.round(n.position.y) },
      };
    }),
    edges: docEdges,
  };
}

/** A readable, unique node id derived from the type, e.g. "condition", "sms_2". */
export function newNodeId(type: string, taken: Set<string>): string {
  let base = (type.split('.').pop() || 'node').replace(/[^A-Za-z0-9_]/g, '_');
  if (!/^[A-Za-z_]/.test(base)) base = 'n_' + base;
  base = base.slice(0, 56);
  if (!taken.has(base)) return base;
  for (let i = 2; ; i++) {
    const id = `${base}_${i}`;
    if (!taken.has(id)) return id;
  }
}

/** Initial config of a new node: each field's default. */
export function defaultConfig(spec: NodeSpec | undefined): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  for (const f of spec?.fields ?? []) if (f.default !== undefined) config[f.name] = f.default;
  return config;
}

export function isFlowDoc(v: unknown): v is FlowDoc {
  if (!v || typeof v !== 'object') return false;
  const d = v as Partial<FlowDoc>;
  return Array.isArray(d.nodes) && Array.isArray(d.edges ?? []) && (d.schema === undefined || d.schema === 'opsflow/v1');
}

/** Accepts a flow document, or an API flow ({definition}), as found in an imported file. */
export function parseImportedFlow(text: string): FlowDoc {
  const v: unknown = JSON.parse(text);
  const doc = isFlowDoc(v) ? v : (v as { definition?: unknown })?.definition;
  if (!isFlowDoc(doc)) throw new Error('missing "nodes"');
  return { schema: 'opsflow/v1', name: doc.name || '', description: doc.description ?? '', nodes: doc.nodes, edges: doc.edges ?? [] };
}

/** Whether a field applies given the node's config (show_if, with the other fields' defaults). */
export function fieldShown(field: FieldSpec, config: Record<string, unknown>, spec: NodeSpec | undefined): boolean {
  for (const [name, values] of Object.entries(field.show_if ?? {})) {
    const v = config[name] ?? spec?.fields.find((f) => f.name === name)?.default;
    if (!values.includes(String(v ?? ''))) return false;
  }
  return true;
}

/** Fields whose value says best what a node does, in order of preference. */
const SUMMARY_FIELDS = ['expression', 'to', 'url', 'event_type', 'cron', 'team', 'duration', 'until', 'message', 'subject', 'flow', 'items'];

/**
 * A one-line summary of a node's logic for its card: the condition, the recipient, the URL…
 * (the first of SUMMARY_FIELDS that is set, else the first set text field).
 */
export function nodeSummary(config: Record<string, unknown>, spec: NodeSpec | undefined, teamName?: (id: string) => string | undefined): string {
  const text = (name: string): string => {
    const v = config[name];
    if (typeof v !== 'string' || !v.trim()) return '';
    const kind = spec?.fields.find((f) => f.name === name)?.kind;
    return kind === 'team' ? teamName?.(v) ?? v : v.trim();
  };
  for (const name of SUMMARY_FIELDS) if (spec?.fields.some((f) => f.name === name) && text(name)) return text(name);
  for (const f of spec?.fields ?? []) {
    if (['string', 'template', 'expr'].includes(f.kind) && text(f.name)) return text(f.name);
  }
  return '';
}
