import { describe, expect, it } from 'vitest';
import { act, fireEvent, screen, waitFor, within } from '@testing-library/react';
import { EditorPage } from '../src/pages/EditorPage';
import type { FlowDoc } from '../src/api/types';
import { mockApi, renderApp, SPECS, type Handler } from './helpers';

const valid = { valid: true, problems: [], scopes: { condition: ['event.data.amount'] } };

function setup(validate: Handler, extra: Record<string, unknown> = {}) {
  return mockApi({
    'GET /node-types': { node_types: SPECS },
    'GET /credentials': { items: [] },
    'GET /teams': { items: [] },
    'POST /flows/validate': validate,
    ...extra,
  });
}

describe('EditorPage', () => {
  it('adds nodes from the palette, undoes and redoes', async () => {
    setup(() => ({ body: valid }));
    renderApp(<EditorPage id={null} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Add On event' }));
    fireEvent.click(screen.getByRole('button', { name: 'Add If / else' }));
    await waitFor(() => expect(document.querySelectorAll('.react-flow__node')).toHaveLength(2));
    expect(document.querySelector('[data-node-id="event"]')).toBeTruthy();
    expect(document.querySelector('[data-node-id="condition"]')).toBeTruthy();
    // The new node is selected: the panel shows its fields.
    expect(screen.getByRole('combobox', { name: /Condition/ })).toBeTruthy();
    fireEvent.click(screen.getByRole('button', { name: /^Undo/ }));
    await waitFor(() => expect(document.querySelectorAll('.react-flow__node')).toHaveLength(1));
    fireEvent.click(screen.getByRole('button', { name: /^Redo/ }));
    await waitFor(() => expect(document.querySelectorAll('.react-flow__node')).toHaveLength(2));
  });

  it('shows the server problems on the node and disables publishing with the reason', async () => {
    setup(({ body }) => {
      const doc = body as FlowDoc;
      const cond = doc.nodes.find((n) => n.type === 'logic.condition');
      return cond
        ? { body: { valid: false, scopes: {}, problems: [{ node_id: cond.id, field: 'config.expression', code: 'required', message: 'Condition is required' }] } }
        : { body: valid };
    });
    renderApp(<EditorPage id={null} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Add On event' }));
    fireEvent.click(screen.getByRole('button', { name: 'Add If / else' }));
    await screen.findByText('Cannot publish: 1 problem(s) to fix');
    expect((screen.getByRole('button', { name: 'Publish' }) as HTMLButtonElement).disabled).toBe(true);
    expect(document.querySelector('[data-node-id="condition"] .opsnode-problems')?.textContent).toContain('1 problem(s)');
    expect(screen.getByRole('alert').textContent).toContain('Condition is required');
  });

  it('connects ports from the panel and saves the document', async () => {
    let saved: FlowDoc | null = null;
    setup(() => ({ body: valid }), {
      'POST /flows': ({ body }: { body: unknown }) => {
        saved = body as FlowDoc;
        return { status: 201, body: { id: 'f1', latest_version: 1, published_version: 0, enabled: true, version: { version: 1 }, definition: body } };
      },
    });
    renderApp(<EditorPage id={null} />);
    fireEvent.click(await screen.findByRole('button', { name: 'Add If / else' }));
    fireEvent.click(screen.getByRole('button', { name: 'Add Send SMS' }));
    // Select the condition node again through the canvas.
    const cond = document.querySelector('.react-flow__node[data-id="condition"]')!;
    fireEvent.click(cond);
    const panel = await screen.findByRole('group', { name: 'Output fields' });
    fireEvent.change(within(panel).getByLabelText('true → …'), { target: { value: 'sms' } });
    await waitFor(() => expect(within(panel).getByText('→ sms')).toBeTruthy());
    await act(async () => { fireEvent.click(screen.getByRole('button', { name: 'Save draft' })); });
    await waitFor(() => expect(saved).not.toBeNull());
    expect(saved!.edges).toEqual([{ from: 'condition', to: 'sms', port: 'true' }]);
    expect(saved!.nodes.map((n) => n.id)).toEqual(['condition', 'sms']);
    await waitFor(() => expect(location.pathname).toBe('/flows/f1'));
  });
});
