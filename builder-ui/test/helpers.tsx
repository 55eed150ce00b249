import type { ReactNode } from 'react';
import { render } from '@testing-library/react';
import { vi } from 'vitest';
import { I18nProvider } from '../src/i18n';
import { RouterProvider } from '../src/router';
import { ToastProvider } from '../src/components/Toasts';
import { NodeTypesProvider } from '../src/nodeTypes';
import type { Lang, NodeSpec } from '../src/api/types';

export type Handler = (req: { method: string; path: string; body: unknown }) => { status?: number; body?: unknown } | undefined;

/** Stubs fetch with a route table: "GET /flows" → handler. Records every call. */
export function mockApi(routes: Record<string, Handler | unknown>) {
  const calls: { method: string; path: string; body: unknown }[] = [];
  const fetchMock = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input), 'http://localhost');
    const method = (init?.method ?? 'GET').toUpperCase();
    const path = url.pathname.replace(/^\/api\/v1/, '');
    const body = init?.body ? JSON.parse(String(init.body)) : undefined;
    calls.push({ method, path: path + url.search, body });
    const route = routes[`${method} ${path}`];
    let res: { status?: number; body?: unknown } | undefined;
    if (typeof route === 'function') res = (route as Handler)({ method, path, body });
    else if (route !== undefined) res = { body: route };
    if (!res) res = { status: 404, body: { error: { code: 'not_found', message: `no such endpoint: ${method} ${path}` } } };
    const status = res.status ?? 200;
    return new Response(status === 204 ? null : JSON.stringify(res.body ?? {}), { status, headers: { 'Content-Type': 'application/json' } });
  });
  vi.stubGlobal('fetch', fetchMock);
  return calls;
}

export function renderApp(ui: ReactNode, lang: Lang = 'en') {
  return render(
    <I18nProvider initial={lang}>
      <RouterProvider>
        <ToastProvider>
          <NodeTypesProvider>{ui}</NodeTypesProvider>
        </ToastProvider>
      </RouterProvider>
    </I18nProvider>,
  );
}

const lt = (en: string, zh: string) => ({ en, 'zh-CN': zh });

export const SPECS: NodeSpec[] = [
  { type: 'trigger.event', category: 'trigger', title: lt('On event', '事件触发'), description: lt('Starts on an event', '事件触发时启动'), icon: 'bolt',
    fields: [
      { name: 'event_type', kind: 'string', title: lt('Event type', '事件类型'), required: true },
      { name: 'sample', kind: 'json', title: lt('Sample data', '示例数据') },
    ], ports: ['out'] },
  { type: 'logic.condition', category: 'logic', title: lt('If / else', '条件判断'), description: lt('Branches', '分支'), icon: 'split',
    fields: [{ name: 'expression', kind: 'expr', title: lt('Condition', '条件'), required: true, expr_type: 'bool' }], ports: ['true', 'false'] },
  { type: 'action.sms', category: 'action', title: lt('Send SMS', '发送短信'), description: lt('Sends an SMS', '发送短信'), icon: 'message', side_effect: true,
    fields: [
      { name: 'credential', kind: 'credential', title: lt('SMS account', '短信账号'), required: true, credential_types: ['twilio'] },
      { name: 'to', kind: 'template', title: lt('To', '收件人'), required: true },
    ], ports: ['out'] },
];
