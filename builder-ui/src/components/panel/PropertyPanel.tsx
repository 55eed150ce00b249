import { useEffect, useState } from 'react';
import type { Credential, CredentialType, Problem, Team } from '../../api/types';
import type { FlowEdge, FlowNode, NodeData } from '../../flow/model';
import { DEFAULT_PORT, NODE_ID_RE, fieldShown } from '../../flow/model';
import { WebhookBox } from './WebhookBox';
import { NodeTestBox } from './NodeTestBox';
import { useI18n } from '../../i18n';
import { useNodeTypes } from '../../nodeTypes';
import { FieldEditor } from '../fields/FieldEditor';
import { Markdown } from '../Markdown';

export interface PropertyPanelProps {
  nodes: FlowNode[];
  edges: FlowEdge[];
  selected: FlowNode[];
  meta: { name: string; description: string };
  problems: Problem[];
  scopes: Record<string, string[]>;
  credentials: Credential[];
  credentialTypes?: CredentialType[];
  onCredentialCreated?: (c: Credential) => void;
  onTeamCreated?: (t: Team) => void;
  teams: Team[];
  onMeta: (m: { name: string; description: string }) => void;
  onNodeData: (id: string, patch: Partial<NodeData>, coalesceKey: string) => void;
  onRename: (id: string, next: string) => void;
  onDelete: (ids: string[]) => void;
  onSelect: (id: string) => void;
  onConnectPort: (source: string, port: string, target: string) => void;
  onDisconnect: (edgeId: string) => void;
  /** Downloads the saved flow as a gallery template (only once it is saved). */
  onExportTemplate?: () => void;
  /** Where a webhook-triggered flow listens (once saved), and whether it does yet (published). */
  webhookUrl?: string;
  webhookLive?: boolean;
  /** The saved flow, whose draft "Test this node" runs the node of (absent until saved). */
  flowId?: string;
  /** Saves unsaved changes first (a node test runs the saved draft); null when saving failed. */
  ensureSaved?: () => Promise<string | null>;
}

/** Field name a problem points at: "config.expression" → "expression". */
export function problemField(p: Problem): string | null {
  const m = /^config\.([^.[\]]+)/.exec(p.field ?? '');
  return m ? m[1] : null;
}

export function PropertyPanel(props: PropertyPanelProps) {
  const { t } = useI18n();
  if (props.selected.length === 1) return <NodeProperties {...props} node={props.selected[0]} key={props.selected[0].id} />;
  if (props.selected.length > 1) {
    return (
      <div className="panel-body">
        <h2>{t('panel.multi', { n: props.selected.length })}</h2>
        <button type="button" className="danger" onClick={() => props.onDelete(props.selected.map((n) => n.id))}>{t('common.delete')}</button>
        <p className="muted small">{t('shortcut.help')}</p>
      </div>
    );
  }
  return <FlowSettings {...props} />;
}

function FlowSettings({ meta, onMeta, problems, nodes, onSelect, onExportTemplate }: PropertyPanelProps) {
  const { t, lt, pt } = useI18n();
  const { byType } = useNodeTypes();
  const fieldTitle = (p: Problem) => (name: string) => {
    const type = nodes.find((n) => n.id === p.node_id)?.data.type;
    return lt(byType.get(type ?? '')?.fields.find((f) => f.name === name)?.title) || undefined;
  };
  return (
    <div className="panel-body">
      <h2>{t('panel.flow')}</h2>
      <div className="field">
        <label htmlFor="flow-description">{t('editor.description')}</label>
        <textarea id="flow-description" rows={3} value={meta.description} onChange={(e) => onMeta({ ...meta, description: e.target.value })} />
      </div>
      <h3>{t('panel.flowProblems')}</h3>
      {problems.length === 0 ? <p className="muted">{t('panel.noProblems')}</p> : (
        <ul className="problems">
          {problems.map((p, i) => (
            <li key={i}>
              {p.node_id ? (
                <button type="button" className="link" onClick={() => onSelect(p.node_id!)}>{p.node_id}</button>
              ) : null}
              {p.node_id ? ': ' : ''}{pt(p, fieldTitle(p))}
            </li>
          ))}
        </ul>
      )}
      <p className="muted small">{t('panel.selectHint')}</p>
      <p className="muted small">{t('shortcut.help')}</p>
      {onExportTemplate && <button type="button" className="small" onClick={onExportTemplate}>{t('templates.exportTemplate')}</button>}
    </div>
  );
}

function NodeProperties(props: PropertyPanelProps & { node: FlowNode }) {
  const { node, problems, scopes, onNodeData } = props;
  const { t, lt, pt } = useI18n();
  const { byType } = useNodeTypes();
  const spec = byType.get(node.data.type);
  const mine = problems.filter((p) => p.node_id === node.id);
  const fieldTitle = (name: string) => lt(spec?.fields.find((f) => f.name === name)?.title) || undefined;
  const fieldNames = new Set(spec?.fields.map((f) => f.name));
  const general = mine.filter((p) => { const f = problemField(p); return !f || !fieldNames.has(f); });
  const scope = scopes[node.id] ?? [];
  const [idText, setIdText] = useState(node.id);
  useEffect(() => setIdText(node.id), [node.id]);
  const idOk = NODE_ID_RE.test(idText) && (idText === node.id || !props.nodes.some((n) => n.id === idText));

  return (
    <div className="panel-body" aria-label={lt(spec?.title) || node.data.type}>
      <h2>{lt(spec?.title) || node.data.type}</h2>
      {spec && <p className="muted small">{lt(spec.description)}</p>}
      <div className="field">
        <label htmlFor="node-name">{t('panel.nodeName')}</label>
        <input id="node-name" type="text" value={node.data.name} onChange={(e) => onNodeData(node.id, { name: e.target.value }, node.id + ':name')} />
      </div>
      <div className={`field ${idOk ? '' : 'invalid'}`}>
        <label htmlFor="node-id">{t('panel.nodeId', { id: idText })}</label>
        <input
          id="node-id"
          type="text"
          className="mono"
          value={idText}
          aria-invalid={!idOk || undefined}
          aria-describedby={idOk ? undefined : 'node-id-err'}
          onChange={(e) => setIdText(e.target.value)}
          onBlur={() => { if (idOk && idText !== node.id) props.onRename(node.id, idText); else setIdText(node.id); }}
          onKeyDown={(e) => { if (e.key === 'Enter') (e.target as HTMLInputElement).blur(); }}
        />
        {!idOk && <div id="node-id-err" className="field-error">{t('panel.nodeIdInvalid')}</div>}
      </div>
      {general.length > 0 && (
        <ul className="problems" role="alert">
          {general.map((p, i) => <li key={i}>{pt(p, fieldTitle)}</li>)}
        </ul>
      )}
      {spec?.webhook && <WebhookBox url={props.webhookUrl} live={!!props.webhookLive} config={node.data.config} spec={spec} />}
      {spec?.fields.filter((f) => fieldShown(f, node.data.config, spec)).map((f) => (
        <FieldEditor
          key={f.name}
          field={f}
          value={node.data.config[f.name]}
          onChange={(v) => onNodeData(node.id, { config: { ...node.data.config, [f.name]: v } }, `${node.id}:config.${f.name}`)}
          errors={mine.filter((p) => problemField(p) === f.name).map((p) => pt(p, fieldTitle))}
          scope={scope}
          credentials={props.credentials}
          credentialTypes={props.credentialTypes}
          onCredentialCreated={props.onCredentialCreated}
          onTeamCreated={props.onTeamCreated}
          teams={props.teams}
        />
      ))}
      {spec && <PortConnections {...props} node={node} ports={spec.ports?.length ? spec.ports : [DEFAULT_PORT]} />}
      {props.flowId && spec?.category !== 'trigger' && <NodeTestBox flowId={props.flowId} nodeId={node.id} ensureSaved={props.ensureSaved} />}
      {lt(spec?.docs) && (
        <details className="docs">
          <summary>{t('panel.docs')}</summary>
          <Markdown text={lt(spec?.docs)} />
        </details>
      )}
      <button type="button" className="danger" onClick={() => props.onDelete([node.id])}>{t('panel.deleteNode')}</button>
    </div>
  );
}

/** Keyboard-friendly connections: for each output port, its targets and a picker to add one. */
function PortConnections({ node, ports, nodes, edges, onConnectPort, onDisconnect }: PropertyPanelProps & { node: FlowNode; ports: string[] }) {
  const { t, portLabel } = useI18n();
  const { byType } = useNodeTypes();
  const candidates = nodes.filter((n) => n.id !== node.id && byType.get(n.data.type)?.category !== 'trigger');
  return (
    <fieldset className="ports-editor">
      <legend>{t('panel.outputs')}</legend>
      {ports.map((port) => {
        const out = edges.filter((e) => e.source === node.id && (e.sourceHandle || DEFAULT_PORT) === port);
        return (
          <div key={port} className="port-row">
            <span className="badge">{portLabel(port)}</span>
            {out.map((e) => (
              <span key={e.id} className="chip">
                → {e.target}
                <button type="button" className="icon" aria-label={`${t('common.remove')} ${portLabel(port)} → ${e.target}`} onClick={() => onDisconnect(e.id)}>×</button>
              </span>
            ))}
            <select
              aria-label={`${portLabel(port)} → …`}
              value=""
              onChange={(e) => { if (e.target.value) onConnectPort(node.id, port, e.target.value); }}
            >
              <option value="">+ {t('common.add')}</option>
              {candidates.filter((c) => !out.some((e) => e.target === c.id)).map((c) => (
                <option key={c.id} value={c.id}>{c.data.name || c.id} ({c.id})</option>
              ))}
            </select>
          </div>
        );
      })}
    </fieldset>
  );
}
