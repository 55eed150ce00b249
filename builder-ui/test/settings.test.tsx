import { afterEach, describe, expect, it, vi } from 'vitest';
import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { mockApi, renderApp } from './helpers';
import { SettingsPage } from '../src/pages/SettingsPage';

const lt = (en: string, zh: string) => ({ en, 'zh-CN': zh });
const TYPES = [
  { type: 'twilio', title: lt('Twilio (SMS)', 'Twilio（短信）'), description: lt('Account SID and auth token', '账号'),
    fields: [
      { name: 'account_sid', title: lt('Account SID', 'Account SID'), required: true },
      { name: 'auth_token', title: lt('Auth token', 'Auth Token'), required: true, secret: true },
      { name: 'from', title: lt('From', '发送号码'), required: true },
      { name: 'base_url', title: lt('API base URL (optional)', 'API 地址（可选）') },
    ] },
];

describe('SettingsPage', () => {
  afterEach(() => vi.unstubAllGlobals());

  it('creates a credential from its type form, secrets as password fields, empty optional values left out', async () => {
    const creds: { id: string; name: string; type: string; created_at: string }[] = [];
    const calls = mockApi({
      'GET /credential-types': { credential_types: TYPES },
      'GET /credentials': () => ({ body: { items: creds } }),
      'GET /teams': { items: [] },
      'POST /credentials': ({ body }: { body: unknown }) => {
        const b = body as { name: string; type: string };
        creds.push({ id: 'c1', name: b.name, type: b.type, created_at: '2026-11-24T10:00:00Z' });
        return { status: 201, body: creds[0] };
      },
    });
    renderApp(<SettingsPage />);
    const user = userEvent.setup();
    await user.selectOptions(await screen.findByLabelText('Type'), 'twilio');
    expect(screen.getByLabelText(/Auth token/)).toHaveProperty('type', 'password');
    await user.type(screen.getByLabelText(/^Name/), 'twilio-prod');
    await user.type(screen.getByLabelText(/Account SID/), 'AC123');
    await user.type(screen.getByLabelText(/Auth token/), 's3cret');
    await user.type(screen.getByLabelText(/^From/), '+14155550000');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));
    await waitFor(() => expect(calls.some((c) => c.method === 'POST')).toBe(true));
    const post = calls.find((c) => c.method === 'POST')!;
    expect(post.body).toEqual({ name: 'twilio-prod', type: 'twilio', data: { account_sid: 'AC123', auth_token: 's3cret', from: '+14155550000' } });
    const row = await screen.findByText('twilio-prod');
    expect(within(row.closest('tr')!).getByText('Twilio (SMS)')).toBeTruthy();
    expect(screen.queryByDisplayValue('s3cret')).toBeNull();
  });

  it('shows the server’s objection to a credential', async () => {
    mockApi({
      'GET /credential-types': { credential_types: TYPES },
      'GET /credentials': { items: [] },
      'GET /teams': { items: [] },
      'POST /credentials': () => ({ status: 400, body: { error: { code: 'invalid_credential', message: 'auth_token is required' } } }),
    });
    renderApp(<SettingsPage />);
    const user = userEvent.setup();
    await screen.findByRole('option', { name: 'Twilio (SMS)' }); // the types have loaded
    await user.selectOptions(await screen.findByLabelText('Type'), 'twilio');
    await user.type(screen.getByLabelText(/^Name/), 'x');
    await user.type(screen.getByLabelText(/Account SID/), 'AC1');
    await user.type(screen.getByLabelText(/Auth token/), 't');
    await user.type(screen.getByLabelText(/^From/), '+1');
    await user.click(screen.getByRole('button', { name: 'Save credential' }));
    expect((await screen.findByRole('alert')).textContent).toContain('auth_token is required');
  });

  it('adds a team and a member, and switches a member off', async () => {
    const teams = [{ id: 't1', name: 'Support', description: '', members: [{ id: 'm1', name: 'Ana', email: 'ana@example.com', phone: '+14155550101', active: true }] }];
    const calls = mockApi({
      'GET /credential-types': { credential_types: TYPES },
      'GET /credentials': { items: [] },
      'GET /teams': () => ({ body: { items: teams } }),
      'POST /teams': () => ({ status: 201, body: { id: 't2', name: 'Sales', description: '', members: [] } }),
      'POST /teams/t1/members': () => ({ status: 201, body: {} }),
      'PUT /members/m1': () => ({ body: {} }),
    });
    renderApp(<SettingsPage />, 'zh-CN');
    const user = userEvent.setup();
    const team = (await screen.findByText('Support', {}, { timeout: 5000 })).closest('.team') as HTMLElement;
    await user.click(within(team).getByLabelText('启用: Ana'));
    await waitFor(() => expect(calls.find((c) => c.method === 'PUT')?.body).toEqual({ name: 'Ana', email: 'ana@example.com', phone: '+14155550101', active: false }));
    await user.type(within(team).getAllByLabelText('名称')[0], 'Bo');
    await user.type(within(team).getByLabelText('电话（E.164）'), '+14155550102');
    await user.click(within(team).getByRole('button', { name: '添加成员' }));
    await waitFor(() => expect(calls.find((c) => c.path === '/teams/t1/members')?.body).toEqual({ name: 'Bo', email: '', phone: '+14155550102' }));
    await user.type(screen.getByLabelText('新建团队'), 'Sales');
    await user.click(screen.getByRole('button', { name: '添加' }));
    await waitFor(() => expect(calls.find((c) => c.method === 'POST' && c.path === '/teams')?.body).toEqual({ name: 'Sales' }));
  });
});
