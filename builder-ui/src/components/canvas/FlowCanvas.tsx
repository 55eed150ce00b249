import { useCallback, useEffect, useMemo, useState, type DragEvent } from 'react';
import {
  Background, Controls, MiniMap, ReactFlow, useReactFlow, applyNodeChanges,
  type Connection, type EdgeChange, type NodeChange, type IsValidConnection, type OnSelectionChangeFunc, type OnConnectEnd,
} from '@xyflow/react';
import type { FlowEdge, FlowNode } from '../../flow/model';
import { DEFAULT_PORT } from '../../flow/model';
import { useNodeTypes } from '../../nodeTypes';
import { useI18n } from '../../i18n';
import { OpsNode } from './OpsNode';
import { CanvasContext, type CanvasInfo } from './CanvasContext';

export const DND_MIME = 'application/opsflow-node';
const nodeTypes = { opsflow: OpsNode };

export interface FlowCanvasProps {
  nodes: FlowNode[];
  edges: FlowEdge[];
  info: CanvasInfo;
  onNodesChange?: (changes: NodeChange<FlowNode>[]) => void;
  onEdgesChange?: (changes: EdgeChange<FlowEdge>[]) => void;
  onConnect?: (c: Connection) => void;
  onDropType?: (type: string, position: { x: number; y: number }) => void;
  onNodeDragStart?: () => void;
  onSelectionChange?: OnSelectionChangeFunc<FlowNode, FlowEdge>;
  onNodeClick?: (id: string) => void;
  /** A connection dragged from an output port was dropped on empty canvas (screen coordinates). */
  onConnectToEmpty?: (source: string, port: string, at: { x: number; y: number }) => void;
  loading?: boolean;
}

/** Which edges a run went along: the source ran and left by this edge's port, and the target ran. */
function decorateEdges(edges: FlowEdge[], info: CanvasInfo): FlowEdge[] {
  const steps = info.stepByNode;
  if (!steps) return edges;
  return edges.map((e) => {
    const from = steps.get(e.source);
    const taken = !!from && !!steps.get(e.target) && (from.port || DEFAULT_PORT) === (e.sourceHandle || DEFAULT_PORT);
    return { ...e, className: taken ? 'edge-taken' : 'edge-nottaken', animated: taken, data: { ...e.data, taken } };
  });
}

/**
 * With page text selected, a press on the canvas would start the browser's native drag of that
 * text: the connection being drawn sticks and the next drag moves the node. Drop the selection
 * before the canvas sees the press (and never start a native drag from the canvas).
 */
function clearTextSelection() {
  const sel = window.getSelection();
  if (sel && !sel.isCollapsed) sel.removeAllRanges();
}

export function FlowCanvas(props: FlowCanvasProps) {
  const { nodes, edges, info, onDropType } = props;
  const { t } = useI18n();
  const { byType } = useNodeTypes();
  const rf = useReactFlow<FlowNode, FlowEdge>();
  const readOnly = info.readOnly;

  // Read-only canvases keep their own copy so that measured sizes (used by the minimap) stick.
  const [localNodes, setLocalNodes] = useState(nodes);
  useEffect(() => setLocalNodes(nodes), [nodes]);
  const onLocalNodesChange = useCallback((c: NodeChange<FlowNode>[]) => setLocalNodes((ns) => applyNodeChanges(c, ns)), []);
  const controlled = !!props.onNodesChange;

  const ariaLabelConfig = useMemo(() => ({
    'node.a11yDescription.default': t('rf.node'),
    'node.a11yDescription.keyboardDisabled': t('rf.nodeMove'),
    'node.a11yDescription.ariaLiveMessage': ({ direction, x, y }: { direction: string; x: number; y: number }) =>
      t('rf.moved', { direction, x, y }),
    'edge.a11yDescription.default': t('rf.edge'),
    'controls.ariaLabel': t('rf.controls'),
    'controls.zoomIn.ariaLabel': t('rf.zoomIn'),
    'controls.zoomOut.ariaLabel': t('rf.zoomOut'),
    'controls.fitView.ariaLabel': t('rf.fitView'),
    'controls.interactive.ariaLabel': t('rf.interactive'),
    'minimap.ariaLabel': t('canvas.minimap'),
    'handle.ariaLabel': t('rf.handle'),
  }), [t]);

  // Edges from a node with several outputs carry the port's name (true, false, timeout…) where they start:
  // the source handle's own label sits on the edge (OpsNode), so the edge draws no second label of its own,
  // which would repeat the name right next to it.
  const shownEdges = useMemo(() => decorateEdges(edges, info), [edges, info]);

  const isValidConnection: IsValidConnection<FlowEdge> = useCallback((c) => {
    if (!c.source || !c.target || c.source === c.target) return false;
    const target = nodes.find((n) => n.id === c.target);
    if (!target || byType.get(target.data.type)?.category === 'trigger') return false;
    const port = c.sourceHandle || DEFAULT_PORT;
    return !edges.some((e) => e.source === c.source && e.target === c.target && (e.sourceHandle || DEFAULT_PORT) === port);
  }, [nodes, edges, byType]);

  const onDragOver = (e: DragEvent) => {
    if (readOnly) return;
    if (e.dataTransfer.types.includes(DND_MIME)) {
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    }
  };
  const onDrop = (e: DragEvent) => {
    if (readOnly || !onDropType) return;
    const type = e.dataTransfer.getData(DND_MIME);
    if (!type) return;
    e.preventDefault();
    const pos = rf.screenToFlowPosition({ x: e.clientX, y: e.clientY });
    onDropType(type, { x: pos.x - 90, y: pos.y - 30 });
  };

  const onConnectEnd: OnConnectEnd = (e, c) => {
    const target = e.target as Element | null;
    if (readOnly || !props.onConnectToEmpty || c.isValid || !c.fromNode || c.fromHandle?.type !== 'source') return;
    if (!target?.classList.contains('react-flow__pane')) return;
    const p = 'changedTouches' in e ? e.changedTouches[0] : e;
    props.onConnectToEmpty(c.fromNode.id, c.fromHandle.id || DEFAULT_PORT, { x: p.clientX, y: p.clientY });
  };

  return (
    <CanvasContext.Provider value={info}>
      <div
        className="canvas"
        onDragOver={onDragOver}
        onDrop={onDrop}
        onPointerDownCapture={clearTextSelection}
        onDragStart={(e) => e.preventDefault()}
        aria-label={t('canvas.label')}
        role="region"
      >
        <ReactFlow<FlowNode, FlowEdge>
          nodes={controlled ? nodes : localNodes}
          edges={shownEdges}
          nodeTypes={nodeTypes}
          ariaLabelConfig={ariaLabelConfig}
          onNodesChange={controlled ? props.onNodesChange : onLocalNodesChange}
          onNodeClick={props.onNodeClick ? (_e, n) => props.onNodeClick!(n.id) : undefined}
          onEdgesChange={props.onEdgesChange}
          onConnect={props.onConnect}
          onConnectEnd={onConnectEnd}
          onNodeDragStart={props.onNodeDragStart}
          onSelectionChange={props.onSelectionChange}
          isValidConnection={isValidConnection}
          nodesDraggable={!readOnly}
          nodesConnectable={!readOnly}
          elementsSelectable
          deleteKeyCode={readOnly ? null : ['Delete', 'Backspace']}
          multiSelectionKeyCode={['Shift', 'Meta', 'Control']}
          selectionKeyCode="Shift"
          fitView={readOnly}
          fitViewOptions={{ padding: 0.25, maxZoom: 1.1 }}
          minZoom={0.2}
          maxZoom={2}
          defaultEdgeOptions={{ type: 'smoothstep' }}
        >
          <Background gap={20} />
          <Controls showInteractive={!readOnly} />
          <MiniMap pannable zoomable ariaLabel={t('canvas.minimap')} nodeClassName={(n) => `mm-${byType.get((n as FlowNode).data.type)?.category ?? 'other'}`} />
        </ReactFlow>
        {props.loading
          ? <div className="canvas-empty" role="status">{t('common.loading')}</div>
          : nodes.length === 0 && !readOnly && <div className="canvas-empty">{t('canvas.empty')}</div>}
      </div>
    </CanvasContext.Provider>
  );
}
