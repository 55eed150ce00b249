import { memo } from 'react';
import { Handle, Position, type NodeProps } from '@xyflow/react';
import type { FlowNode } from '../../flow/model';
import { DEFAULT_PORT, nodeSummary } from '../../flow/model';
import { useNodeTypes } from '../../nodeTypes';
import { useI18n } from '../../i18n';
import { useCanvasInfo } from './CanvasContext';
import { NodeIcon } from './icons';
import { StatusBadge } from '../StatusBadge';

/** A flow node on the canvas: title, name, id, one target handle and one labelled source handle per port. */
function OpsNodeView({ id, data, selected }: NodeProps<FlowNode>) {
  const { byType } = useNodeTypes();
  const { t, lt, pt, portLabel } = useI18n();
  const { problemsByNode, stepByNode, teamName, changeByNode } = useCanvasInfo();
  const change = changeByNode?.get(id);
  const spec = byType.get(data.type);
  const ports = spec?.ports?.length ? spec.ports : [DEFAULT_PORT];
  const problems = problemsByNode.get(id) ?? [];
  const step = stepByNode?.get(id);
  const runClass = stepByNode ? (step ? `run-${step.status}` : 'run-notrun') : '';
  const isTrigger = spec?.category === 'trigger';
  const title = spec ? lt(spec.title) : t('canvas.unknownType');
  const summary = nodeSummary(data.config, spec, teamName);
  return (
    <div
      className={`opsnode cat-${spec?.category ?? 'other'} ${selected ? 'selected' : ''} ${problems.length ? 'has-problems' : ''} ${runClass} ${change ? `change-${change}` : ''}`}
      data-node-id={id}
      data-run-status={step?.status ?? (stepByNode ? 'notrun' : undefined)}
      data-change={change}
      aria-label={`${title}: ${data.name || id}`}
    >
      {!isTrigger && <Handle type="target" position={Position.Top} id="in" className="handle-in" />}
      <div className="opsnode-head">
        <NodeIcon icon={spec?.icon} category={spec?.category} />
        {/* The type only when the name does not already say it. */}
        <span className="opsnode-type">{data.name && data.name !== title ? title : ''}</span>
        {change && <span className={`badge change-${change}`}>{t(`compare.${change}`)}</span>}
        {spec?.side_effect && <span className="side-effect" title={t('canvas.sideEffect')} aria-label={t('canvas.sideEffect')}>↗</span>}
      </div>
      <div className="opsnode-name">{data.name || title}</div>
      {summary && <div className="opsnode-summary mono" title={summary}>{summary}</div>}
      <div className="opsnode-id mono">{id}</div>
      {problems.length > 0 && (
        <div className="opsnode-problems" role="note" title={problems.map((p) => pt(p, (name) => lt(spec?.fields.find((f) => f.name === name)?.title) || undefined)).join('\n')}>
          ⚠ {t('canvas.problems', { n: problems.length })}
        </div>
      )}
      {step && (
        <div className="opsnode-run">
          <StatusBadge status={step.status} />
          {step.port && step.port !== DEFAULT_PORT && <span className="small"> → {portLabel(step.port)}</span>}
        </div>
      )}
      <div className="opsnode-ports">
        {ports.map((port, i) => {
          const left = `${((i + 1) * 100) / (ports.length + 1)}%`;
          return (
            <div key={port} className="port" style={{ left }}>
              <Handle
                type="source"
                position={Position.Bottom}
                id={port}
                className={`handle-out port-${port}`}
                data-port={port}
                style={{ left: '50%' }}
                aria-label={portLabel(port)}
              />
              {/* Centred under its handle, on the start of the edges leaving it (they draw no label of their own).
                  With many ports (a switch) every other label drops a row, so neighbours never overlap. */}
              {(ports.length > 1 || port !== DEFAULT_PORT) && (
                <span className={`port-label${ports.length > 3 && i % 2 ? ' port-label-low' : ''}`} data-port={port}>{portLabel(port)}</span>
              )}
            </div>
          );
        })}
      </div>
    </div>
  );
}

export const OpsNode = memo(OpsNodeView);
