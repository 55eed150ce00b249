/**
 * A small layered ("Sugiyama-lite") layout: nodes are placed in rows by their longest
 * distance from a root, and ordered within a row by the average position of their parents.
 * Good enough for the mostly tree-shaped flows opsflow has, and no dependency.
 */
export interface LayoutInput { id: string }
export interface LayoutEdge { source: string; target: string; sourceHandle?: string | null }

export const LAYER_GAP = 150;
export const NODE_GAP = 260;

export function layeredLayout(
  nodes: LayoutInput[],
  edges: LayoutEdge[],
  portOrder: (nodeId: string, port: string) => number = () => 0,
): Record<string, { x: number; y: number }> {
  const ids = nodes.map((n) => n.id);
  const idSet = new Set(ids);
  const parents = new Map<string, LayoutEdge[]>();
  const children = new Map<string, string[]>();
  for (const id of ids) { parents.set(id, []); children.set(id, []); }
  for (const e of edges) {
    if (!idSet.has(e.source) || !idSet.has(e.target) || e.source === e.target) continue;
    parents.get(e.target)!.push(e);
    children.get(e.source)!.push(e.target);
  }
  // Longest-path layering over a DFS order; back edges of cycles are ignored.
  const layer = new Map<string, number>();
  const visiting = new Set<string>();
  const depth = (id: string): number => {
    if (layer.has(id)) return layer.get(id)!;
    if (visiting.has(id)) return 0;
    visiting.add(id);
    let d = 0;
    for (const e of parents.get(id)!) d = Math.max(d, depth(e.source) + 1);
    visiting.delete(id);
    layer.set(id, d);
    return d;
  };
  ids.forEach(depth);

  const rows: string[][] = [];
  for (const id of ids) {
    const l = layer.get(id)!;
    (rows[l] ??= []).push(id);
  }
  const xIndex = new Map<string, number>();
  rows.forEach((row, l) => {
    if (l > 0) {
      const key = (id: string) => {
        const ps = parents.get(id)!.filter((e) => xIndex.has(e.source));
        if (!ps.length) return Number.MAX_SAFE_INTEGER;
        return ps.reduce((s, e) => s + xIndex.get(e.source)! + portOrder(e.source, e.sourceHandle ?? 'out') * 0.1, 0) / ps.length;
      };
      row.sort((a, b) => key(a) - key(b));
    }
    row.forEach((id, i) => xIndex.set(id, i));
  });
  const widest = Math.max(1, ...rows.map((r) => r?.length ?? 0));
  const out: Record<string, { x: number; y: number }> = {};
  rows.forEach((row, l) => {
    const offset = ((widest - row.length) * NODE_GAP) / 2;
    row.forEach((id, i) => { out[id] = { x: offset + i * NODE_GAP, y: l * LAYER_GAP }; });
  });
  return out;
}

/**
 * Whether a document's positions do not suit the builder's top-to-bottom ports: a node without
 * a position, or a connection that does not go down (flows drawn left to right).
 */
export function needsLayout(doc: { nodes?: { id: string; position?: { x: number; y: number } }[]; edges?: { from: string; to: string }[] }): boolean {
  const nodes = doc.nodes ?? [];
  if (nodes.length < 2) return false;
  if (nodes.some((n) => !n.position)) return true;
  const y = new Map(nodes.map((n) => [n.id, n.position!.y]));
  return (doc.edges ?? []).some((e) => y.has(e.from) && y.has(e.to) && y.get(e.to)! <= y.get(e.from)!);
}
