import { describe, expect, it, vi } from 'vitest';
import { screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { CredentialForm } from '../src/components/CredentialForm';
import type { CredentialType } from '../src/api/types';
import { mockApi, renderApp } from './helpers';

const TYPES: CredentialType[] = [
  { type: 'webhook_secret', title: { en: 'Webhook signing secret', 'zh-CN': 'Webhook 签名密钥' }, description: { en: '', 'zh-CN': '' },
    fields: [{ name: 'secret', title: { en: 'Secret', 'zh-CN': '密钥' }, required: true, secret: true }] },
  { type: 'twilio', title: { en: 'Twilio', 'zh-CN': 'Twilio' }, description: { en: '', 'zh-CN': '' },
    fields: [{ name: 'account_sid', title: { en: 'Account SID', 'zh-CN': '账号 SID' }, required: true }] },
];

describe('CredentialForm inline', () => {
  it('creates a credential of the one type a field needs, without a <form> (it sits inside others)', async () => {
    const calls = mockApi({ 'POST /credentials': () => ({ status: 201, body: { id: 'c9', name: 'hook', type: 'webhook_secret', created_at: '' } }) });
    const onCreated = vi.fn();
    const { container } = renderApp(<CredentialForm nested types={TYPES} only={['webhook_secret']} onCreated={onCreated} />);
    expect(container.querySelector('form')).toBeNull();
    expect(screen.queryByLabelText('Type')).toBeNull(); // the type is given
    const user = userEvent.setup();
    await user.click(screen.getByRole('button', { name: 'Save credential' }));
    expect((await screen.findByRole('alert')).textContent).toContain('Name, Secret');
    await user.type(screen.getByLabelText(/^Name/), 'hook');
    await user.type(screen.getByLabelText(/^Secret/), 'whsec_1');
    expect((screen.getByLabelText(/^Secret/) as HTMLInputElement).type).toBe('password');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));
    await waitFor(() => expect(onCreated).toHaveBeenCalledWith(expect.objectContaining({ id: 'c9' })));
    expect(calls.find((c) => c.method === 'POST')?.body).toEqual({ name: 'hook', type: 'webhook_secret', data: { secret: 'whsec_1' } });
  });

  it('in Chinese', async () => {
    mockApi({});
    renderApp(<CredentialForm nested types={TYPES} only={['webhook_secret']} onCreated={() => {}} />, 'zh-CN');
    expect(screen.getByLabelText(/^密钥/)).toBeTruthy();
    expect(screen.getByRole('button', { name: '保存凭据' }) ?? null).toBeTruthy();
  });
});
