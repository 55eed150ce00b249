import { useMemo } from 'react';
import { ReactFlowProvider } from '@xyflow/react';
import { comparisonGraph, type VersionComparison } from '../../flow/compare';
import { useI18n } from '../../i18n';
import { FlowCanvas } from './FlowCanvas';
import type { CanvasInfo } from './CanvasContext';

/**
 * Two versions compared on a read-only canvas: the newer graph with added, changed and removed
 * (faded) nodes and edges marked; clicking a node picks it for the field-level changes.
 */
export function CompareCanvas({ comparison: c, onSelect, onClose, teamName }: {
  comparison: VersionComparison;
  onSelect: (id: string) => void;
  onClose: () => void;
  teamName?: (id: string) => string | undefined;
}) {
  const { t } = useI18n();
  const graph = useMemo(() => comparisonGraph(c.fromDoc, c.toDoc, c.diff), [c.fromDoc, c.toDoc, c.diff]);
  const nodes = useMemo(() => graph.nodes.map((n) => ({ ...n, selected: n.id === c.selected })), [graph, c.selected]);
  const info = useMemo<CanvasInfo>(() => ({
    problemsByNode: new Map(), stepByNode: null, readOnly: true, teamName, changeByNode: c.diff.nodes,
  }), [c.diff, teamName]);
  return (
    <div className="compare-view">
      <div className="compare-bar" role="status">
        <strong>{t('compare.heading', { from: c.from, to: c.to })}</strong>
        <span className="badge change-added">{t('compare.added')}</span>
        <span className="badge change-changed">{t('compare.changed')}</span>
        <span className="badge change-removed">{t('compare.removed')}</span>
        <div className="spacer" />
        <button type="button" className="small" onClick={onClose}>{t('compare.back')}</button>
      </div>
      <ReactFlowProvider key={`${c.from}-${c.to}`}>
        <FlowCanvas nodes={nodes} edges={graph.edges} info={info} onNodeClick={onSelect} />
      </ReactFlowProvider>
    </div>
  );
}
