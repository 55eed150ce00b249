import { describe, expect, it } from 'vitest';
import { waitFor } from '@testing-library/react';
import { ReactFlowProvider } from '@xyflow/react';
import { FlowCanvas } from '../src/components/canvas/FlowCanvas';
import { docToGraph } from '../src/flow/model';
import type { FlowDoc, Lang, NodeSpec } from '../src/api/types';
import { useNodeTypes } from '../src/nodeTypes';
import { mockApi, renderApp, SPECS } from './helpers';

const lt = (en: string, zh: string) => ({ en, 'zh-CN': zh });
const SWITCH: NodeSpec = {
  type: 'logic.switch', category: 'logic', title: lt('Switch', '多路分支'), description: lt('Cases', '分支'), icon: 'switch',
  fields: [], ports: ['case_1', 'case_2', 'case_3', 'case_4', 'case_5', 'default'],
};

const doc: FlowDoc = {
  schema: 'opsflow/v1', name: 'F',
  nodes: [
    { id: 'start', type: 'trigger.event', config: { event_type: 'payment.failed' }, position: { x: 0, y: 0 } },
    { id: 'check', type: 'logic.condition', config: { expression: 'event.data.amount >= 100' }, position: { x: 0, y: 150 } },
    { id: 'sms', type: 'action.sms', config: { to: '+1' }, position: { x: 0, y: 300 } },
    { id: 'route', type: 'logic.switch', position: { x: 300, y: 150 } },
    { id: 'sms2', type: 'action.sms', config: { to: '+2' }, position: { x: 300, y: 300 } },
  ],
  edges: [
    { from: 'start', to: 'check' }, { from: 'check', to: 'sms', port: 'true' }, { from: 'check', to: 'route', port: 'false' },
    { from: 'route', to: 'sms2', port: 'case_1' }, { from: 'route', to: 'sms2', port: 'default' },
  ],
};

/** The canvas once the node types are known (as in the editor), so each node has all its handles when measured. */
function Canvas() {
  const { loading } = useNodeTypes();
  const { nodes, edges } = docToGraph(doc);
  if (loading) return null;
  return (
    <ReactFlowProvider>
      <div style={{ width: 800, height: 600 }}>
        <FlowCanvas nodes={nodes} edges={edges} info={{ problemsByNode: new Map(), stepByNode: null, readOnly: true }} />
      </div>
    </ReactFlowProvider>
  );
}

function renderCanvas(lang: Lang) {
  mockApi({ 'GET /node-types': { node_types: [...SPECS, SWITCH] } });
  return renderApp(<Canvas />, lang);
}

/** Every port name written on the canvas: the handles' labels and any edge label. */
const written = () => [...document.querySelectorAll('.port-label, .react-flow__edge-text')].map((e) => e.textContent);

describe('port names on the canvas', () => {
  for (const [lang, yes, no] of [['en', 'true', 'false'], ['zh-CN', '是', '否']] as const) {
    it(`names each port once, on its handle where the edges leave (${lang})`, async () => {
      renderCanvas(lang);
      await waitFor(() => expect(document.querySelectorAll('.react-flow__edge')).toHaveLength(5));
      expect(document.querySelector('[data-id="check:true->sms"]')).toBeTruthy();
      // No edge repeats the name its handle already shows.
      expect(document.querySelectorAll('.react-flow__edge-text')).toHaveLength(0);
      expect(written().filter((s) => s === yes)).toHaveLength(1);
      expect(written().filter((s) => s === no)).toHaveLength(1);
      const check = document.querySelector('[data-node-id="check"]')!;
      expect(check.querySelector('.port-label[data-port="true"]')?.textContent).toBe(yes);
      // A switch's six ports: each named once; every other label a row lower, so neighbours never overlap.
      const route = [...document.querySelectorAll('[data-node-id="route"] .port-label')];
      expect(route.map((e) => e.textContent)).toEqual(['case_1', 'case_2', 'case_3', 'case_4', 'case_5', 'default']);
      expect(route.map((e) => e.classList.contains('port-label-low'))).toEqual([false, true, false, true, false, true]);
      expect(written().filter((s) => s === 'case_1')).toHaveLength(1);
      // Two ports: one row.
      expect(check.querySelectorAll('.port-label-low')).toHaveLength(0);
    });
  }
});
