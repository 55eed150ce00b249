// End-to-end test: builds and starts the real opsflow server, a fake Twilio, and drives
// Debian's Chromium with playwright-core through building, publishing and running a flow.
// Usage: npm run e2e   (needs /usr/bin/chromium, Go, and a built dist/: npm run build)
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { dashChecks } from './dash.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const uiDir = path.resolve(here, '..');
const repo = path.resolve(uiDir, '..');
// Screenshots go to a temporary folder; E2E_SCREENSHOTS=refresh rewrites the committed ones.
const REFRESH = process.env.E2E_SCREENSHOTS === 'refresh';
let shots = path.join(uiDir, 'screenshots');
const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HEADED = process.env.E2E_HEADED === '1';

let passed = 0;
let currentPage = null;
let failed = 0;
const cleanups = [];
const log = (...a) => console.log('[e2e]', ...a);

async function check(name, fn) {
  try {
    await fn();
    passed++;
    console.log(`  ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`  FAIL ${name}\n       ${(e && e.stack) || e}`);
    if (currentPage) {
      const out = path.join(uiDir, 'e2e-output');
      mkdirSync(out, { recursive: true });
      await currentPage.screenshot({ path: path.join(out, 'failure.png') }).catch(() => {});
      console.log('       screenshot: e2e-output/failure.png');
    }
    throw e;
  }
}
function assert(cond, msg) { if (!cond) throw new Error(msg); }

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

async function waitFor(fn, what, timeoutMs = 60_000, everyMs = 300) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try { const v = await fn(); if (v) return v; } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? ': ' + last.message : ''}`);
}

/** A tiny stand-in for Twilio's Messages API. */
function startFakeTwilio() {
  const messages = [];
  const state = { failNext: 0 };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      const m = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(req.url ?? '');
      if (req.method !== 'POST' || !m) { res.writeHead(404).end('{}'); return; }
      const form = Object.fromEntries(new URLSearchParams(body));
      if (state.failNext > 0) {
        state.failNext--;
        res.writeHead(400, { 'Content-Type': 'application/json' });
        res.end(JSON.stringify({ code: 21211, message: "The 'To' number is not a valid phone number.", status: 400 }));
        return;
      }
      const sid = 'SM' + String(messages.length + 1).padStart(32, '0');
      messages.push({ account: m[1], auth: req.headers.authorization, form });
      res.writeHead(201, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ sid, status: 'queued', to: form.To, from: form.From, body: form.Body }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, messages, state, port: server.address().port })));
}

const SERVICE_TOKEN = 'e2e-service-token-0123456789';
const ADMIN = { email: 'admin@example.com', password: 'e2e admin password' };
const EDITOR = { email: 'editor@example.com', password: 'e2e editor password' };

let tmp;
async function main() {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'opsflow-e2e-'));
  cleanups.push(() => rmSync(tmp, { recursive: true, force: true }));
  if (!REFRESH) shots = mkdtempSync(path.join(os.tmpdir(), 'opsflow-e2e-shots-'));
  mkdirSync(shots, { recursive: true });
  log('screenshots in', shots);

  log('building the server (embeds builder-ui/dist)…');
  const bin = path.join(tmp, 'opsflow');
  execFileSync('go', ['build', '-o', bin, './cmd/opsflow'], { cwd: repo, stdio: 'inherit' });

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = path.join(tmp, 'data');
  mkdirSync(dataDir);
  const srv = spawn(bin, ['serve'], {
    cwd: repo,
    env: {
      ...process.env, OPSFLOW_ADDR: `127.0.0.1:${port}`, OPSFLOW_DATA_DIR: dataDir, OPSFLOW_HTTP_ALLOW: '127.0.0.0/8',
      // The API is never open: fixtures use a service token, the browser signs in as this admin.
      OPSFLOW_API_TOKENS: SERVICE_TOKEN, OPSFLOW_BOOTSTRAP_ADMIN_EMAIL: ADMIN.email, OPSFLOW_BOOTSTRAP_ADMIN_PASSWORD: ADMIN.password,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let srvLog = '';
  srv.stdout.on('data', (d) => { srvLog += d; });
  srv.stderr.on('data', (d) => { srvLog += d; });
  cleanups.push(() => { if (srv.exitCode === null) srv.kill('SIGTERM'); });
  try {
    await waitFor(async () => {
      if (srv.exitCode !== null) throw new Error(`the server exited with ${srv.exitCode}`);
      return (await fetch(base + '/readyz')).ok; // /healthz answers while the engine is still starting
    }, 'GET /healthz');
  } catch (e) {
    console.log('[e2e] server output:\n' + srvLog);
    throw e;
  }
  log('server up at', base);

  const apiCall = async (method, p, body) => {
    const headers = { Authorization: 'Bearer ' + SERVICE_TOKEN };
    if (body) headers['Content-Type'] = 'application/json';
    const res = await fetch(base + '/api/v1' + p, { method, headers, body: body ? JSON.stringify(body) : undefined });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${p} → ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };

  // E2E_DEV=1 drives the Vite dev server (React's development checks on) proxying to this server.
  let ui = base;
  if (process.env.E2E_DEV === '1') {
    const vitePort = await freePort();
    const vite = spawn(path.join(uiDir, 'node_modules/.bin/vite'), ['--port', String(vitePort), '--strictPort', '--host', '127.0.0.1'], {
      cwd: uiDir, env: { ...process.env, OPSFLOW_API: base }, stdio: 'ignore',
    });
    cleanups.push(() => vite.kill('SIGTERM'));
    ui = `http://127.0.0.1:${vitePort}`;
    await waitFor(async () => (await fetch(ui + '/')).ok, 'vite dev server');
    log('dev UI at', ui);
  }

  const twilio = await startFakeTwilio();
  cleanups.push(() => twilio.server.close());

  // ---- fixtures through the API ----
  const team = await apiCall('POST', '/teams', { name: 'Billing escalations', description: 'Handles failed payments' });
  const member = await apiCall('POST', `/teams/${team.id}/members`, { name: 'Mei Chen', email: 'mei@example.com', phone: '+15550001111', active: true });
  await apiCall('POST', '/credentials', {
    name: 'Twilio (test)', type: 'twilio',
    data: { account_sid: 'AC0123456789', auth_token: 'secret-token', from: '+15550000000', base_url: `http://127.0.0.1:${twilio.port}` },
  });
  log('team, member and credential created');

  // ---- browser ----
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: !HEADED,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  cleanups.push(() => browser.close());
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
  const page = await context.newPage();
  currentPage = page;
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  if (process.env.E2E_DEBUG === '1') page.on('console', (m) => console.log('[browser]', m.type(), m.text()));
  page.on('dialog', (d) => void d.accept());
  page.setDefaultTimeout(15_000);

  const signIn = async (who) => {
    await page.getByRole('button', { name: 'Sign in' }).waitFor();
    await page.getByLabel('Email').fill(who.email);
    await page.getByLabel('Password').fill(who.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('button', { name: 'Sign out' }).waitFor();
  };

  await check('the builder asks to sign in; the admin signs in', async () => {
    await page.goto(ui + '/');
    await page.getByLabel('Email').fill(ADMIN.email);
    await page.getByLabel('Password').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('wrong email or password').waitFor();
    await page.screenshot({ path: path.join(shots, 'login.png') });
    await signIn(ADMIN);
    await page.getByText('admin@example.com · Admin').waitFor();
  });

  await check('flow list loads (empty state)', async () => {
    await page.goto(ui + '/');
    await page.getByRole('heading', { name: 'Flows' }).waitFor();
    await page.getByText('No flows yet').waitFor();
  });

  const pane = page.locator('.react-flow__pane');
  const dropNode = async (type, x, y) => {
    await page.locator(`.palette-item[data-node-type="${type}"]`).dragTo(pane, { targetPosition: { x, y } });
  };
  const node = (id) => page.locator(`.react-flow__node[data-id="${id}"]`);
  const connect = async (from, port, to) => {
    const src = node(from).locator(`.react-flow__handle[data-handleid="${port}"]`);
    const dst = node(to).locator('.react-flow__handle[data-handleid="in"]');
    const edge = page.locator(`.react-flow__edge[data-id="${from}:${port}->${to}"]`);
    // On a loaded machine a drag onto a node placed a moment ago is now and then lost: one more try, then fail.
    for (let attempt = 1; ; attempt++) {
      const a = await src.boundingBox();
      const b = await dst.boundingBox();
      await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
      await page.mouse.down();
      await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 5 });
      await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
      await page.mouse.up();
      try {
        await edge.waitFor({ state: 'attached', timeout: attempt === 1 ? 5000 : 15_000 });
        return;
      } catch (e) {
        if (attempt === 2 || (await page.locator('.node-picker').count())) throw e;
      }
    }
  };
  const field = (name) => page.locator(`.sidepanel [data-field="${name}"]`);

  await check('build the payment-failed flow by drag and drop', async () => {
    await page.getByRole('button', { name: 'New flow' }).click();
    await page.getByText('Drag a trigger from the palette to start.').waitFor();
    await page.getByLabel('Flow name').fill('Payment failed → billing team');

    await dropNode('trigger.event', 420, 60);
    await node('event').waitFor();
    if (process.env.E2E_DEBUG === '1') log('pane', await pane.boundingBox(), 'node', await node('event').boundingBox());
    await field('event_type').locator('input').fill('payment.failed');
    await field('sample').locator('textarea').fill('{"payment_id": "pay_1", "amount": 150, "currency": "USD", "customer": {"name": "Ann", "phone": "+15557654321"}}');

    await dropNode('logic.condition', 420, 200);
    await node('condition').waitFor();
    await connect('event', 'out', 'condition');
    await node('condition').click();
    // The expression editor suggests the fields of the trigger's sample.
    const expr = field('expression').locator('textarea');
    await expr.click();
    await waitFor(async () => (await page.locator('.sidepanel').textContent()).length > 0, 'panel');
    await expr.pressSequentially('event.data.am', { delay: 20 });
    await page.getByRole('option', { name: 'event.data.amount' }).waitFor();
    await expr.press('Enter');
    await expr.pressSequentially(' >= 100', { delay: 10 });
    assert((await expr.inputValue()) === 'event.data.amount >= 100', 'expression is ' + (await expr.inputValue()));

    await dropNode('action.assign', 300, 350);
    await node('assign').waitFor();
    await connect('condition', 'true', 'assign');
    await node('assign').click();
    await field('team').locator('select').selectOption({ label: `${team.name} · 1 member(s)` });
    await field('subject').locator('textarea').fill('Payment {{ event.data.payment_id }} failed');

    await dropNode('action.sms', 300, 500);
    await node('sms').waitFor();
    await connect('assign', 'out', 'sms');
    await node('sms').click();
    await field('credential').locator('select').selectOption({ label: 'Twilio (test) (twilio)' });
    await field('to').locator('textarea').fill('{{ nodes.assign.assignee.phone }}');
    await field('body').locator('textarea').fill('Payment of {{ event.data.amount }} {{ event.data.currency }} failed for {{ event.data.customer.name }}');
  });

  await check('copy, paste, undo, redo and delete on the canvas', async () => {
    await node('sms').click();
    await page.keyboard.press('Control+c');
    await page.keyboard.press('Control+v');
    await node('sms_2').waitFor();
    await page.keyboard.press('Control+z');
    await node('sms_2').waitFor({ state: 'detached' });
    await page.keyboard.press('Control+Shift+z');
    await node('sms_2').waitFor();
    // Pasted beside the original, not on top of it (and still selected).
    const orig = await node('sms').boundingBox();
    const copy = await node('sms_2').boundingBox();
    assert(copy.x >= orig.x + orig.width, `the paste lands beside the original: ${orig.x} → ${copy.x}`);
    assert(await node('sms_2').evaluate((el) => el.classList.contains('selected')), 'the pasted node is selected');
    await page.keyboard.press('Delete');
    await node('sms_2').waitFor({ state: 'detached' });
    assert(await page.locator('.react-flow__node').count() === 4, 'four nodes left');
    // Shift+click selects several nodes.
    await node('condition').click();
    await node('sms').click({ modifiers: ['Shift'] });
    await page.getByRole('heading', { name: '2 nodes selected' }).waitFor();
    await pane.click({ position: { x: 10, y: 10 } });
    await page.getByRole('heading', { name: 'Flow settings' }).waitFor();
  });

  await check('an invalid expression is reported on the node and field, and blocks publishing', async () => {
    await node('condition').click();
    const expr = field('expression').locator('textarea');
    await expr.fill('event.data.amout >= 100');
    await node('condition').locator('.opsnode-problems').waitFor();
    await field('expression').locator('.field-error').waitFor();
    assert(await page.getByRole('button', { name: 'Publish' }).isDisabled(), 'publish should be disabled');
    await page.locator('#publish-blocked').waitFor();
    await expr.fill('event.data.amount >= 100');
    await page.locator('.validity.good').waitFor();
    assert(await page.getByRole('button', { name: 'Publish' }).isEnabled(), 'publish should be enabled');
  });

  await check('auto-layout, then screenshot of the canvas with the panel', async () => {
    await page.getByRole('button', { name: 'Auto-layout' }).click();
    await page.waitForTimeout(400);
    await node('sms').click();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(shots, 'canvas-panel.png') });
  });

  let flowId;
  await check('publish', async () => {
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published v1', { exact: true }).first().waitFor();
    flowId = page.url().split('/flows/')[1];
    assert(flowId && flowId !== 'new', 'url has the flow id: ' + page.url());
    const f = await apiCall('GET', `/flows/${flowId}`);
    assert(f.published_version === 1, 'published_version ' + f.published_version);
    assert(f.definition.edges.some((e) => e.from === 'condition' && e.to === 'assign' && e.port === 'true'), 'true edge saved');
  });

  await check('test run (dry) from the builder highlights the false path', async () => {
    await page.getByRole('tab', { name: 'Test run' }).click();
    await page.locator('#test-data').fill('{"payment_id": "pay_0", "amount": 20, "currency": "USD", "customer": {"name": "Bo", "phone": "+1555"}}');
    await page.getByRole('button', { name: 'Run test' }).click();
    await page.locator('.test-result h3 .status-succeeded').waitFor({ timeout: 30_000 });
    await page.locator('.opsnode[data-node-id="condition"][data-run-status="succeeded"]').waitFor();
    await page.locator('.opsnode[data-node-id="assign"][data-run-status="notrun"]').waitFor();
    assert(twilio.messages.length === 0, 'no SMS for a small amount');
  });

  await check('versions: save a draft, compare, publish, roll back', async () => {
    await page.getByRole('tab', { name: 'Properties' }).click();
    await node('condition').click();
    await field('expression').locator('textarea').fill('event.data.amount >= 200');
    await page.locator('.validity.good').waitFor();
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved (v2)').waitFor();
    await page.getByRole('tab', { name: 'Versions' }).click();
    await page.locator('.versions li[data-version="2"]').waitFor();
    // The two versions are compared on the canvas (the dedicated #6 check below looks closer).
    await page.locator('.compare-bar').getByText('Comparing v1 → v2').waitFor();
    await page.locator('.opsnode[data-node-id="condition"][data-change="changed"]').waitFor();
    await page.getByRole('button', { name: 'Publish' }).click();
    await page.getByText('Published v2', { exact: true }).first().waitFor();
    await page.locator('.versions li[data-version="1"]').getByRole('button', { name: 'Roll back' }).click();
    await page.getByRole('alertdialog').getByRole('button', { name: 'Roll back' }).click();
    await page.getByText('Version 1 is live again').waitFor();
    const f = await apiCall('GET', `/flows/${flowId}`);
    assert(f.published_version === 1 && f.latest_version === 2, `live v${f.published_version}, latest v${f.latest_version}`);
    // #10 who saved and who published each version; live vs published earlier.
    const v1 = page.locator('.versions li[data-version="1"]');
    const v2 = page.locator('.versions li[data-version="2"]');
    await v1.locator('.badge', { hasText: /^Live$/ }).waitFor();
    await v2.locator('.badge', { hasText: /^Published earlier$/ }).waitFor();
    for (const v of [v1, v2]) {
      const who = await v.locator('.version-who').textContent();
      assert(who.includes('Saved by admin@example.com') && who.includes('Published by admin@example.com'), 'who: ' + who);
    }
  });

  let exported;
  await check('export the flow as JSON and import it as a new flow', async () => {
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export JSON' }).click(),
    ]);
    exported = path.join(tmp, 'exported.json');
    await download.saveAs(exported);
    const doc = JSON.parse(readFileSync(exported, 'utf8'));
    assert(doc.schema === 'opsflow/v1' && doc.nodes.length === 4 && doc.edges.length === 3, 'exported doc: ' + JSON.stringify(doc));
    await page.getByRole('link', { name: 'Flows' }).first().click();
    await page.getByRole('link', { name: 'Payment failed → billing team' }).waitFor();
    await page.getByTestId('import-file').setInputFiles(exported);
    await node('sms').waitFor();
    await page.getByLabel('Flow name').fill('Imported copy');
    await page.locator('.validity.good').waitFor();
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved (v1)').waitFor();
    await page.waitForURL(/\/flows\/[0-9a-f-]{8,}/);
  });

  let runId;
  await check('an event through the API runs the published flow and sends the SMS', async () => {
    const ev = await apiCall('POST', '/events', {
      type: 'payment.failed', idempotency_key: 'e2e-1',
      data: { payment_id: 'pay_42', amount: 250, currency: 'USD', customer: { name: 'Ann', phone: '+15557654321' } },
    });
    assert(ev.run_ids?.length === 1, 'one run started: ' + JSON.stringify(ev));
    runId = ev.run_ids[0];
    const run = await waitFor(async () => {
      const r = await apiCall('GET', `/runs/${runId}`);
      return ['succeeded', 'failed', 'cancelled'].includes(r.status) ? r : null;
    }, 'run to finish', 60_000, 400);
    assert(run.status === 'succeeded', 'run status ' + run.status + ' ' + (run.error ?? '') + JSON.stringify(run.steps));
    assert(twilio.messages.length === 1, 'one SMS sent, got ' + twilio.messages.length);
    const sms = twilio.messages[0];
    assert(sms.form.To === member.phone, 'SMS to the assignee: ' + sms.form.To);
    assert(sms.form.Body.includes('250'), 'SMS body: ' + sms.form.Body);
  });

  await check('the run view highlights the path taken', async () => {
    await page.goto(`${ui}/runs/${runId}`);
    for (const id of ['event', 'condition', 'assign', 'sms'])
      await page.locator(`.opsnode[data-node-id="${id}"][data-run-status="succeeded"]`).waitFor();
    await page.locator('.react-flow__edge.edge-taken[data-id="condition:true->assign"]').waitFor();
    const taken = await page.locator('.react-flow__edge.edge-taken').count();
    assert(taken === 3, 'three edges taken, got ' + taken);
    const pathText = await page.getByTestId('run-path').textContent();
    assert(pathText === 'event → condition (true) → assign → sms', 'path: ' + pathText);
    await page.getByTestId('run-history').getByText('Started by an event').waitFor();
    await page.locator('.step[data-step-node="sms"] summary').click();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(shots, 'run-view.png') });
  });

  await check('a failed run is shown on the canvas and retried from the failed step', async () => {
    twilio.state.failNext = 1;
    const before = twilio.messages.length;
    const ev = await apiCall('POST', '/events', {
      type: 'payment.failed', idempotency_key: 'e2e-2',
      data: { payment_id: 'pay_43', amount: 300, currency: 'USD', customer: { name: 'Li', phone: '+15557654322' } },
    });
    const failedId = ev.run_ids[0];
    await waitFor(async () => (await apiCall('GET', `/runs/${failedId}`)).status === 'failed', 'run to fail', 60_000, 400);
    await page.goto(`${ui}/runs/${failedId}`);
    await page.locator('.opsnode[data-node-id="sms"][data-run-status="failed"]').waitFor();
    await page.locator('.opsnode[data-node-id="assign"][data-run-status="succeeded"]').waitFor();
    await page.locator('.step[data-step-node="sms"] .field-error').waitFor();
    await page.screenshot({ path: path.join(shots, 'run-failed.png') });
    await page.getByRole('button', { name: 'Retry from the failed step' }).click();
    await page.locator('.opsnode[data-node-id="sms"][data-run-status="succeeded"]').waitFor({ timeout: 30_000 });
    assert(twilio.messages.length === before + 1, 'the retry sent the SMS');
    await page.getByTestId('run-history').getByText('Retried by admin@example.com').waitFor();
  });

  await replayPanelChecks({ page, ui, apiCall, twilio, flowId });

  await check('runs list and flow list show the run', async () => {
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.locator('.runs-table .status-succeeded').first().waitFor();
    await page.getByRole('link', { name: 'Flows' }).click();
    await page.getByRole('link', { name: 'Payment failed → billing team' }).waitFor();
    await page.getByText('Published v1').waitFor();
    await page.waitForTimeout(200);
    await page.screenshot({ path: path.join(shots, 'flow-list.png') });
  });

  await check('template gallery', async () => {
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.getByRole('heading', { name: 'Templates' }).waitFor();
    const cards = page.locator('.card');
    await page.waitForTimeout(500);
    if (await cards.count() === 0) {
      await page.getByText('No templates are available yet').waitFor();
    } else {
      await cards.first().getByRole('button').click();
      await page.getByRole('dialog').waitFor();
      await page.screenshot({ path: path.join(shots, 'templates.png') });
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
    }
    await page.getByRole('link', { name: 'Flows' }).first().click();
  });

  await check('settings: add a credential and a team member in the UI', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'Credentials' }).waitFor();
    await page.locator('[data-credential]').first().waitFor();
    const form = page.getByRole('form', { name: 'New credential' });
    await form.getByLabel('Type').selectOption('slack_webhook');
    await form.getByLabel(/^Name/).fill('ops-slack');
    await form.getByLabel(/Webhook URL/).fill('https://hooks.slack.com/services/T0/B0/secret-e2e');
    await form.getByRole('button', { name: 'Save credential' }).click();
    await page.locator('[data-credential="ops-slack"]').waitFor();
    const creds = await apiCall('GET', '/credentials');
    assert(creds.items.some((c) => c.name === 'ops-slack' && c.type === 'slack_webhook'), 'the credential was stored');
    assert(!JSON.stringify(creds).includes('secret-e2e'), 'the API never returns the secret');
    const team = page.locator('[data-team="Billing escalations"]');
    await team.getByLabel('Name', { exact: true }).fill('Ravi Kumar');
    await team.getByLabel('Phone (E.164)').fill('+15550002222');
    await team.getByRole('button', { name: 'Add member' }).click();
    await team.getByText('Ravi Kumar').waitFor();
    await page.screenshot({ path: path.join(shots, 'settings.png') });
    await page.getByRole('link', { name: 'Flows' }).first().click();
  });

  await check('an admin creates an editor; the editor signs in and is refused Settings', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    const form = page.getByRole('form', { name: 'New user' });
    await form.getByLabel('Email').fill(EDITOR.email);
    await form.getByLabel('Role').selectOption('editor');
    await form.getByLabel('Initial password').fill(EDITOR.password);
    await form.getByRole('button', { name: 'Create user' }).click();
    await page.locator(`[data-user="${EDITOR.email}"]`).waitFor();
    await page.getByRole('heading', { name: 'Users' }).scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(shots, 'users.png') });

    await page.getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Name').fill('crm sync');
    await page.getByRole('button', { name: 'Create key' }).click();
    const key = await page.getByTestId('new-key').textContent();
    assert(key.startsWith('ofk_'), 'a new key is shown once: ' + key);
    const me = await fetch(base + '/api/v1/auth/me', { headers: { Authorization: 'Bearer ' + key } }).then((r) => r.json());
    assert(me.role === 'admin' && me.user.email === ADMIN.email, 'the key works as its owner: ' + JSON.stringify(me));
    await page.screenshot({ path: path.join(shots, 'api-keys.png') });

    await page.getByRole('link', { name: 'Audit log' }).click();
    await page.locator('tr[data-action="user.created"]').first().waitFor();
    await page.locator('tr[data-action="key.created"]').first().waitFor();
    await page.screenshot({ path: path.join(shots, 'audit.png') });

    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(EDITOR);
    await page.getByText('editor@example.com · Editor').waitFor();
    assert(await page.getByRole('link', { name: 'Settings' }).count() === 0, 'no Settings link for an editor');
    await page.goto(ui + '/settings');
    await page.getByText('Your role does not have access to this page.').waitFor();
    const users = await page.evaluate(async () => (await fetch('/api/v1/users')).status);
    assert(users === 403, 'the API refuses the editor too: ' + users);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await signIn(ADMIN);
  });

  // ---- issue #11: each numbered item ----
  const edgeGoesDown = async (from, to) => {
    const a = await node(from).boundingBox();
    const b = await node(to).boundingBox();
    return b.y > a.y + a.height / 2;
  };
  const cjk = /[\u4e00-\u9fff]/;

  // Where an edge from port `port` of `from` starts, the port's label (`name`) sits on it.
  const edgeLabelledAtStart = async (from, port, to, name) => {
    const label = node(from).locator(`.port-label[data-port="${port}"]`);
    assert((await label.textContent()) === name, `label of ${from}.${port}: ${await label.textContent()}`);
    const lb = await label.boundingBox();
    const start = await page.locator(`.react-flow__edge[data-id="${from}:${port}->${to}"] path.react-flow__edge-path`).evaluate((p) => {
      const m = p.getScreenCTM();
      const q = p.getPointAtLength(0);
      return { x: m.a * q.x + m.c * q.y + m.e, y: m.b * q.x + m.d * q.y + m.f };
    });
    assert(start.x > lb.x && start.x < lb.x + lb.width && start.y < lb.y && lb.y - start.y < 20,
      `the edge ${from}:${port}->${to} starts at ${JSON.stringify(start)}, just above its label ${JSON.stringify(lb)}`);
  };
  // Every port name written on the canvas (handle labels and edge labels) appears once, and no two overlap.
  const portNamesOnceApart = async (names) => {
    const boxes = await page.locator('.canvas .port-label, .canvas .react-flow__edge-text').evaluateAll((els) => els.map((e) => {
      const r = e.getBoundingClientRect();
      return { text: e.textContent, x: r.x, y: r.y, w: r.width, h: r.height };
    }));
    for (const n of names) {
      const k = boxes.filter((b) => b.text === n).length;
      assert(k === 1, `"${n}" is written ${k} times on the canvas: ${JSON.stringify(boxes)}`);
    }
    for (const [i, a] of boxes.entries()) {
      for (const b of boxes.slice(i + 1)) {
        const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
        assert(apart, `port names overlap: ${JSON.stringify(a)} ${JSON.stringify(b)}`);
      }
    }
  };

  await check('port names are written once, where the edges leave, never overlapping (condition and switch, both languages)', async () => {
    const sw = await apiCall('POST', '/flows', {
      schema: 'opsflow/v1', name: 'Routes by amount', nodes: [
        { id: 'start', type: 'trigger.event', config: { event_type: 'payment.failed' }, position: { x: 0, y: 0 } },
        { id: 'route', type: 'logic.switch', config: { case_1: 'event.data.amount >= 1000', case_2: 'event.data.amount >= 100' }, position: { x: 0, y: 140 } },
        { id: 'big', type: 'action.log', config: { message: 'big' }, position: { x: -120, y: 280 } },
        { id: 'rest', type: 'action.log', config: { message: 'rest' }, position: { x: 120, y: 280 } },
      ], edges: [{ from: 'start', to: 'route' }, { from: 'route', to: 'big', port: 'case_1' }, { from: 'route', to: 'rest', port: 'default' }],
    });
    for (const lang of ['en', 'zh-CN']) {
      const [yes, no] = lang === 'en' ? ['true', 'false'] : ['是', '否'];
      await page.goto(`${ui}/flows/${flowId}`);
      if (lang !== 'en') await page.getByLabel('Language').selectOption(lang);
      await node('condition').locator('.port-label', { hasText: yes }).waitFor();
      await page.locator('.react-flow__edge[data-id="condition:true->assign"]').waitFor();
      await edgeLabelledAtStart('condition', 'true', 'assign', yes);
      await portNamesOnceApart([yes, no]);
      await page.goto(`${ui}/flows/${sw.id}`);
      await page.locator('.react-flow__edge[data-id="route:default->rest"]').waitFor();
      const routeLabels = await node('route').locator('.port-label').allTextContents();
      assert(routeLabels.length === 6 && routeLabels[0] === 'case_1', 'switch labels: ' + routeLabels);
      await edgeLabelledAtStart('route', 'case_1', 'big', 'case_1');
      await edgeLabelledAtStart('route', 'default', 'rest', routeLabels[5]);
      await portNamesOnceApart(['case_1', 'case_2', 'case_5', routeLabels[5]]);
    }
    await page.getByLabel('语言').selectOption('en');
    await apiCall('DELETE', `/flows/${sw.id}`);
  });

  await check('a bool field toggles where its track is drawn, and its On/Off text is plain text (HTTP "Target ignores repeats")', async () => {
    const f = await apiCall('POST', '/flows', {
      schema: 'opsflow/v1', name: 'Mark paid in CRM', nodes: [
        { id: 'start', type: 'trigger.event', config: { event_type: 'payment.succeeded' }, position: { x: 0, y: 0 } },
        { id: 'crm', type: 'action.http', config: { method: 'PUT', url: 'https://crm.example.com/orders/{{ event.data.order_id }}' }, position: { x: 0, y: 140 } },
      ], edges: [{ from: 'start', to: 'crm' }],
    });
    await page.goto(`${ui}/flows/${f.id}`);
    await node('crm').click();
    const sw = page.getByRole('switch', { name: 'Target ignores repeats' });
    await sw.scrollIntoViewIfNeeded();
    assert(!(await sw.isChecked()), 'off by default');
    const label = page.locator('label.switch', { has: sw });
    await label.locator('span[aria-hidden]').first().click(); // the drawn track, where a user clicks
    assert(await sw.isChecked(), 'clicking the track turns it on');
    const text = label.locator('.switch-text');
    assert((await text.textContent()) === 'On', 'the text says On');
    const bg = await text.evaluate((el) => getComputedStyle(el).backgroundColor);
    assert(bg === 'rgba(0, 0, 0, 0)', 'the On/Off text is not drawn as a second track: ' + bg);
    await page.screenshot({ path: path.join(shots, 'http-idempotent.png') });
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved', { exact: false }).first().waitFor();
    const saved = await apiCall('GET', `/flows/${f.id}`);
    assert(saved.definition.nodes.find((n) => n.id === 'crm').config.idempotent === true, 'saved: ' + JSON.stringify(saved.definition.nodes));
    await apiCall('DELETE', `/flows/${f.id}`);
  });

  await check('#7 node cards show their logic, edges their port, logic nodes their own icon', async () => {
    await page.goto(`${ui}/flows/${flowId}`);
    await node('condition').waitFor();
    const summary = await node('condition').locator('.opsnode-summary').textContent();
    assert(summary.startsWith('event.data.amount >='), 'condition summary: ' + summary);
    const sms = await node('sms').locator('.opsnode-summary').textContent();
    assert(sms === '{{ nodes.assign.assignee.phone }}', 'sms summary: ' + sms);
    const name = await node('sms').locator('.opsnode-name').textContent();
    const card = await node('sms').textContent();
    assert(card.split(name).length === 2, `the type is shown once: ${name} in ${card}`);
    // The edge leaving the condition's true port is labelled "true" where it starts (the handle's label sits on it);
    // a single-output edge carries no label.
    await edgeLabelledAtStart('condition', 'true', 'assign', 'true');
    assert(await node('event').locator('.port-label').count() === 0, 'no label on a single-output port');
    assert(await page.locator('.react-flow__edge[data-id="event:out->condition"] .react-flow__edge-text').count() === 0, 'no label on a single-output edge');
    const condIcon = await node('condition').locator('.node-icon').textContent();
    const assignIcon = await node('assign').locator('.node-icon').textContent();
    assert(condIcon !== '↱' && condIcon !== assignIcon, `icons ${condIcon} ${assignIcon}`);
  });

  let draftId;
  await check('#3 an incomplete flow is saved on the server (Ctrl+S), publishing stays blocked', async () => {
    await page.goto(`${ui}/flows/new`);
    await page.getByText('Drag a trigger from the palette to start.').waitFor();
    await page.getByLabel('Flow name').fill('Half-built');
    await dropNode('trigger.event', 420, 60);
    await node('event').waitFor();
    await dropNode('logic.condition', 420, 220);
    await node('condition').waitFor();
    await page.locator('.validity.bad').waitFor();
    await page.keyboard.press('Control+s');
    await page.getByText(/Draft saved \(v1\) with \d+ problem/).waitFor();
    await page.waitForURL(/\/flows\/[0-9a-f-]{8,}/);
    draftId = page.url().split('/flows/')[1];
    const f = await apiCall('GET', `/flows/${draftId}`);
    assert(f.latest_version === 1 && f.definition.nodes.length === 2, 'stored draft: ' + JSON.stringify(f.definition));
    assert(await page.getByRole('button', { name: 'Publish' }).isDisabled(), 'publish must stay disabled');
    const res = await fetch(`${base}/api/v1/flows/${draftId}/publish`, { method: 'POST', headers: { Authorization: 'Bearer ' + SERVICE_TOKEN } });
    assert(res.status === 422, 'publish through the API: ' + res.status);
  });

  await check('#8 with page text selected, dragging from a port still makes an edge', async () => {
    await page.evaluate(() => {
      const r = document.createRange();
      r.selectNodeContents(document.querySelector('.palette'));
      getSelection().removeAllRanges();
      getSelection().addRange(r);
    });
    assert(await page.evaluate(() => !getSelection().isCollapsed), 'text is selected');
    await connect('event', 'out', 'condition');
    // The next drag moves the node (it does not stick to a connection).
    const before = await node('condition').boundingBox();
    const grip = await node('condition').locator('.opsnode-name').boundingBox();
    await page.mouse.move(grip.x + 10, grip.y + 5);
    await page.mouse.down();
    await page.mouse.move(grip.x + 160, grip.y + 85, { steps: 6 });
    await page.mouse.up();
    const after = await node('condition').boundingBox();
    assert(after.x - before.x > 100, `the node moved: ${before.x} → ${after.x}`);
  });

  await check('#4 a saved fix is not undone by the local draft (no banner after save or on reopen)', async () => {
    await node('event').click();
    await field('event_type').locator('input').fill('order.created');
    await node('condition').click();
    await field('expression').locator('textarea').fill('event.data.amount >'); // the typo
    await node('condition').locator('.opsnode-problems').waitFor();
    await page.waitForTimeout(800); // the local draft is written
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText(/Draft saved \(v2\) with \d+ problem/).waitFor();
    await field('expression').locator('textarea').fill('event.data.amount > 1');
    await page.locator('.validity.good').waitFor();
    await page.getByRole('button', { name: 'Save draft' }).click();
    await page.getByText('Draft saved (v3)', { exact: true }).waitFor();
    assert(await page.locator('.banner').count() === 0, 'no restore banner after saving');
    await page.reload();
    await node('condition').waitFor();
    await page.waitForTimeout(800);
    assert(await page.locator('.banner').count() === 0, 'no restore banner on reopen');
    await node('condition').click();
    assert((await field('expression').locator('textarea').inputValue()) === 'event.data.amount > 1', 'the fix stays');
  });

  await check('#5 problems, node docs and template categories in Chinese (Markdown rendered)', async () => {
    await node('condition').click();
    await field('expression').locator('textarea').fill('');
    await node('condition').locator('.opsnode-problems').waitFor();
    // English first: the message is built from the field's title.
    await field('expression').locator('.field-error').waitFor();
    const enErr = await field('expression').locator('.field-error').textContent();
    assert(/required/.test(enErr), 'English problem: ' + enErr);
    await page.locator('.docs summary').click();
    assert(await page.locator('.docs code').count() > 0, 'docs render code spans');
    assert(!(await page.locator('.docs').textContent()).includes('`'), 'no raw backticks in the docs');
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.locator('.palette').getByText('触发器').waitFor();
    const zhErr = await field('expression').locator('.field-error').textContent();
    assert(cjk.test(zhErr) && !/required/.test(zhErr), 'Chinese problem: ' + zhErr);
    const docs = await page.locator('.docs').textContent();
    assert(cjk.test(docs) && !docs.includes('`'), 'Chinese docs: ' + docs);
    await pane.click({ position: { x: 10, y: 10 } });
    const list = await page.locator('.problems').textContent();
    assert(cjk.test(list) && !/is required|cannot be reached|must /.test(list), 'Chinese problem list: ' + list);
    await page.screenshot({ path: path.join(shots, 'problems-zh.png') });
    await page.getByRole('link', { name: '模板' }).click();
    await page.locator('.chips').getByRole('button', { name: '支付' }).waitFor();
    assert(await page.locator('.card .badge', { hasText: 'payments' }).count() === 0, 'category shown untranslated');
    await page.getByLabel('语言').selectOption('en');
  });

  await check('#1 a flow drawn left to right is laid out top to bottom when imported', async () => {
    const lr = {
      schema: 'opsflow/v1', name: 'Left to right', nodes: [
        { id: 'start', type: 'trigger.manual', position: { x: 0, y: 100 } },
        { id: 'check', type: 'logic.condition', config: { expression: 'true' }, position: { x: 260, y: 100 } },
        { id: 'yes', type: 'action.log', config: { message: 'yes' }, position: { x: 520, y: 40 } },
        { id: 'no', type: 'action.log', config: { message: 'no' }, position: { x: 520, y: 160 } },
      ],
      edges: [{ from: 'start', to: 'check' }, { from: 'check', to: 'yes', port: 'true' }, { from: 'check', to: 'no', port: 'false' }],
    };
    const file = path.join(tmp, 'left-to-right.json');
    writeFileSync(file, JSON.stringify(lr));
    await page.goto(`${ui}/flows`);
    await page.getByTestId('import-file').setInputFiles(file);
    await node('no').waitFor();
    await page.waitForTimeout(300);
    for (const [a, b] of [['start', 'check'], ['check', 'yes'], ['check', 'no']])
      assert(await edgeGoesDown(a, b), `edge ${a} → ${b} goes down`);
    const yes = await node('yes').boundingBox();
    const no = await node('no').boundingBox();
    assert(yes.x + yes.width <= no.x, 'true branch left of false, not overlapping');
  });

  await check('a flow made through the API opens with nothing unsaved, laid out when it has no positions; leaving asks nothing', async () => {
    const nodes = [
      { id: 'start', type: 'trigger.event', config: { event_type: 'payment.failed' } },
      { id: 'check', type: 'logic.condition', config: { expression: 'event.data.amount > 100' } },
      { id: 'notify', type: 'action.log', config: { message: 'big failure' } },
    ];
    const edges = [{ from: 'start', to: 'check' }, { from: 'check', to: 'notify', port: 'true' }];
    const placed = await apiCall('POST', '/flows', {
      schema: 'opsflow/v1', name: 'Placed by the API', edges,
      nodes: nodes.map((n, i) => ({ ...n, position: { x: 0, y: i * 140 } })),
    });
    const unplaced = await apiCall('POST', '/flows', { schema: 'opsflow/v1', name: 'No positions', nodes, edges });
    let asked = 0;
    const onDialog = () => { asked++; };
    await page.goto(`${ui}/flows`); // (leaving the previous check's unsaved import may ask: not counted)
    await page.getByText(placed.name).first().waitFor();
    page.on('dialog', onDialog);
    try {
      for (const f of [placed, unplaced]) {
        await page.goto(`${ui}/flows/${f.id}`);
        await node('notify').waitFor();
        await page.waitForTimeout(500);
        const state = await page.locator('.save-state').textContent();
        assert(state === 'All changes saved', `${f.name}: opened as "${state}"`);
        assert(await edgeGoesDown('start', 'check') && await edgeGoesDown('check', 'notify'), `${f.name}: laid out top to bottom`);
        await page.getByRole('link', { name: 'Flows' }).first().click();
        await page.getByText(f.name).first().waitFor();
        assert(asked === 0, `${f.name}: leaving asked about unsaved changes`);
      }
      // Moving a node is a change: it is unsaved until saved.
      await page.goto(`${ui}/flows/${unplaced.id}`);
      await node('notify').waitFor();
      const box = await node('notify').boundingBox();
      await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
      await page.mouse.down();
      await page.mouse.move(box.x + box.width / 2 + 120, box.y + box.height / 2 + 60, { steps: 8 });
      await page.mouse.up();
      await page.locator('.save-state.dirty').waitFor();
    } finally {
      page.off('dialog', onDialog);
    }
    await apiCall('DELETE', `/flows/${placed.id}`);
    await apiCall('DELETE', `/flows/${unplaced.id}`);
  });

  await check('#9 the webhook trigger shows its URL to copy, a curl and a Stripe CLI line; defaults and HMAC fields', async () => {
    await page.getByRole('link', { name: 'Flows' }).first().click();
    await page.getByRole('button', { name: 'New flow' }).click();
    await page.getByText('Drag a trigger from the palette to start.').waitFor();
    const banner = page.locator('.banner').getByRole('button', { name: 'Discard' });
    if (await banner.count()) await banner.click();
    await page.getByLabel('Flow name').fill('Hook');
    await dropNode('trigger.webhook', 420, 80);
    await node('webhook').waitFor();
    await page.getByText('Save the flow to get its webhook URL.').waitFor();
    assert((await field('method').locator('select').inputValue()) === 'POST', 'method shows its default');
    assert(await field('method').locator('option', { hasText: 'choose' }).count() === 0, 'no "choose" on a field with a default');
    assert(await field('hmac_header').count() === 0, 'no HMAC fields without HMAC');
    await page.keyboard.press('Control+s');
    await page.waitForURL(/\/flows\/[0-9a-f-]{8,}/);
    const id = page.url().split('/flows/')[1];
    const url = `${ui}/api/v1/hooks/${id}`;
    await page.locator('#webhook-url').waitFor();
    assert((await page.locator('#webhook-url').inputValue()) === url, 'webhook url ' + (await page.locator('#webhook-url').inputValue()));
    assert((await page.locator('#webhook-curl').inputValue()).startsWith(`curl -X POST '${url}'`), 'curl line');
    await page.getByRole('button', { name: 'Copy: Webhook URL' }).click();
    await page.getByRole('button', { name: 'Copy: Webhook URL' }).getByText('Copied').waitFor();
    await field('verify').locator('select').selectOption('stripe');
    assert((await page.locator('#webhook-stripe').inputValue()) === `stripe listen --forward-to '${url}'`, 'stripe line');
    assert(await field('hmac_header').count() === 0, 'no HMAC fields for Stripe');
    await field('secret').waitFor();
    await field('verify').locator('select').selectOption('hmac');
    await field('hmac_header').waitFor();
    await page.keyboard.press('Control+s');
    await page.getByText(/Draft saved \(v2\)/).waitFor();
  });

  await check('#2 a missing credential is created inline, from the node panel and from template import', async () => {
    // Node panel: the webhook's signing secret.
    await node('webhook').click();
    assert(!(await field('secret').textContent()).includes('POST /api'), 'no REST API hint');
    await field('secret').getByRole('button', { name: '+ New credential' }).click();
    const form = field('secret').getByRole('group', { name: 'New credential' });
    await form.getByLabel(/^Name/).fill('hook-secret');
    await form.getByLabel(/^Secret/).fill('whsec_e2e_inline');
    await form.getByRole('button', { name: 'Save credential' }).click();
    await page.getByText('Credential “hook-secret” created and chosen').waitFor();
    const chosen = await field('secret').locator('select').inputValue();
    const creds = await apiCall('GET', '/credentials');
    assert(creds.items.some((c) => c.id === chosen && c.name === 'hook-secret' && c.type === 'webhook_secret'), 'the new credential is chosen');
    assert(!JSON.stringify(creds).includes('whsec_e2e_inline'), 'the secret is never returned');
    // Template import: the empty needs are marked on their own fields, one is created inline.
    await page.keyboard.press('Control+s');
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.locator('.card[data-template="payment-failed-support-sms"]').getByRole('button').click();
    const dialog = page.getByRole('dialog');
    await dialog.getByRole('button', { name: 'Create flow' }).click();
    await dialog.locator('[data-need="Support"] .field-error').waitFor();
    await dialog.locator('[data-need="smtp"] .field-error').waitFor();
    assert(!/\bstripe\b:|assign:/.test(await dialog.textContent()), 'no node ids in the errors');
    await dialog.locator('[data-need="smtp"]').getByRole('button', { name: '+ New credential' }).click();
    const smtp = dialog.locator('[data-need="smtp"]').getByRole('group', { name: 'New credential' });
    await smtp.getByLabel(/^Name/).fill('smtp-inline');
    await smtp.getByLabel(/^Host/).fill('smtp.example.com');
    await smtp.getByLabel(/^From/).fill('Billing <billing@example.com>');
    await smtp.getByRole('button', { name: 'Save credential' }).click();
    await waitFor(async () => (await dialog.locator('[data-need="smtp"] select').evaluate((el) => el.selectedOptions[0]?.textContent)) === 'smtp-inline',
      'the new smtp credential to be chosen', 15_000);
    assert(await dialog.locator('[data-need="smtp"] .field-error').count() === 0, 'smtp no longer marked');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
  });

  await check('#10 runs are told apart: different short ids, dates on one line', async () => {
    await page.getByRole('link', { name: 'Runs' }).click();
    await page.locator('.runs-table .run-id').first().waitFor();
    const ids = await page.locator('.runs-table .run-id').allTextContents();
    assert(ids.length >= 3 && new Set(ids).size === ids.length, 'short ids: ' + ids.join(' '));
    for (const box of await page.locator('.runs-table time').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height)))
      assert(box < 24, 'a date wraps: ' + box);
    await page.getByLabel('Language').selectOption('zh-CN');
    for (const box of await page.locator('.runs-table time').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().height)))
      assert(box < 24, 'a Chinese date wraps: ' + box);
    await page.getByLabel('语言').selectOption('en');
    await page.getByRole('link', { name: 'Flows' }).first().click();
  });

  // ---- issue #11 item 6 and #10's "who": versions compared on the canvas, runs and versions name who ----
  const tokenActor = 'OPSFLOW_API_TOKENS #1';
  await check('#6 two versions compared on the canvas: added, removed (ghost), changed; fields before and after; both languages', async () => {
    const base1 = {
      schema: 'opsflow/v1', name: 'Compare me', nodes: [
        { id: 'start', type: 'trigger.manual', position: { x: 200, y: 0 } },
        { id: 'check', type: 'logic.condition', config: { expression: 'event.data.amount >= 100' }, position: { x: 200, y: 140 } },
        { id: 'yes', type: 'action.log', config: { message: 'big' }, position: { x: 60, y: 300 } },
        { id: 'old', type: 'action.log', config: { message: 'small' }, position: { x: 340, y: 300 } },
      ],
      edges: [{ from: 'start', to: 'check' }, { from: 'check', to: 'yes', port: 'true' }, { from: 'check', to: 'old', port: 'false' }],
    };
    const f = await apiCall('POST', '/flows', base1);
    await apiCall('POST', `/flows/${f.id}/publish`, {});
    const base2 = structuredClone(base1);
    base2.nodes[1].config.expression = 'event.data.amount >= 500';
    base2.nodes[3] = { id: 'fresh', type: 'action.log', config: { message: 'small, logged anew' }, position: { x: 600, y: 300 } };
    base2.edges[2] = { from: 'check', to: 'fresh', port: 'false' };
    await apiCall('PUT', `/flows/${f.id}`, base2);
    await page.goto(`${ui}/flows/${f.id}`);
    await node('check').waitFor();
    await page.getByRole('tab', { name: 'Versions' }).click();
    await page.locator('.compare-bar').getByText('Comparing v1 → v2').waitFor();
    for (const [id, change] of [['check', 'changed'], ['fresh', 'added'], ['old', 'removed']])
      await page.locator(`.opsnode[data-node-id="${id}"][data-change="${change}"]`).waitFor();
    for (const id of ['start', 'yes']) assert(!(await page.locator(`.opsnode[data-node-id="${id}"]`).getAttribute('data-change')), id + ' is unchanged');
    await page.locator('.react-flow__edge.edge-added[data-id="check:false->fresh"]').waitFor();
    await page.locator('.react-flow__edge.edge-removed[data-id="check:false->old"]').waitFor();
    assert(await page.locator('.react-flow__edge.edge-added, .react-flow__edge.edge-removed').count() === 2, 'only two edges changed');
    await node('check').click();
    const row = page.getByRole('table', { name: 'check' }).locator('[data-field-change="config.expression"]');
    assert((await row.locator('.before').textContent()) === 'event.data.amount >= 100', 'before');
    assert((await row.locator('.after').textContent()) === 'event.data.amount >= 500', 'after');
    await page.locator('li[data-version="1"] .badge', { hasText: /^Live$/ }).waitFor();
    await page.locator('li[data-version="2"] .badge', { hasText: /^Draft \(never published\)$/ }).waitFor();
    assert((await page.locator('li[data-version="2"] .version-who').textContent()).includes(`Saved by ${tokenActor}`), 'who saved v2');
    await page.screenshot({ path: path.join(shots, 'versions-diff.png') });
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.locator('.compare-bar').getByText('对比 v1 → v2').waitFor();
    await node('check').locator('.badge', { hasText: '已修改' }).waitFor();
    await node('old').locator('.badge', { hasText: '已删除' }).waitFor();
    await page.getByRole('table', { name: 'check' }).getByText('v1（修改前）').waitFor();
    await page.locator('li[data-version="1"] .badge', { hasText: /^线上生效$/ }).waitFor();
    await page.locator('li[data-version="2"] .badge', { hasText: /^草稿（从未发布）$/ }).waitFor();
    await page.locator('li[data-version="1"] .version-who', { hasText: `由 ${tokenActor} 发布` }).waitFor();
    await page.getByLabel('语言').selectOption('en');
    // Back to editing: the editable canvas again, all of it in view.
    await page.getByRole('button', { name: 'Back to editing' }).click();
    await page.locator('.compare-bar').waitFor({ state: 'detached' });
    await node('fresh').waitFor();
    assert(await node('old').count() === 0, 'the ghost is gone');
    const box = await node('check').boundingBox();
    const canvas = await page.locator('.canvas').boundingBox();
    assert(box && box.y > canvas.y && box.y + box.height < canvas.y + canvas.height, 'the flow is in view');
  });

  await check('#10 the run view says who started and who cancelled a run (both languages)', async () => {
    const f = await apiCall('POST', '/flows', {
      schema: 'opsflow/v1', name: 'Waits an hour', nodes: [
        { id: 'start', type: 'trigger.manual', position: { x: 0, y: 0 } },
        { id: 'wait', type: 'logic.delay', config: { duration: '1h' }, position: { x: 0, y: 140 } },
      ], edges: [{ from: 'start', to: 'wait' }],
    });
    await apiCall('POST', `/flows/${f.id}/publish`, {});
    const started = await apiCall('POST', `/flows/${f.id}/run`, { data: {} });
    const id = started.run_ids[0];
    await page.goto(`${ui}/runs/${id}`);
    await page.getByTestId('run-history').getByText(`Started by ${tokenActor}`).waitFor();
    assert(!(await page.getByTestId('run-history').textContent()).includes('an event'), 'a manual run is not "started by an event"');
    await page.getByRole('button', { name: 'Cancel run' }).click();
    await page.getByTestId('run-history').getByText('Cancelled by admin@example.com').waitFor();
    await page.locator('.toolbar .status-cancelled').waitFor();
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.getByTestId('run-history').getByText('由 admin@example.com 取消').waitFor();
    await page.getByTestId('run-history').getByText(`由 ${tokenActor} 启动`).waitFor();
    await page.getByLabel('语言').selectOption('en');
  });

  let pickerFlow;
  await check('#11 a connection dropped on empty canvas opens a node picker and connects the new node (both languages)', async () => {
    pickerFlow = await apiCall('POST', '/flows', {
      schema: 'opsflow/v1', name: 'Picker', nodes: [{ id: 'start', type: 'trigger.manual', position: { x: 0, y: 0 } }], edges: [],
    });
    await page.goto(`${ui}/flows/${pickerFlow.id}`);
    await node('start').waitFor();
    // Dropped on empty canvas, right of the nodes.
    const c = await page.locator('.canvas').boundingBox();
    const drop = { x: c.x + c.width * 0.8, y: c.y + c.height * 0.3 };
    const dropFrom = async (id, port, at = drop) => {
      const h = await node(id).locator(`.react-flow__handle[data-handleid="${port}"]`).boundingBox();
      await page.mouse.move(h.x + h.width / 2, h.y + h.height / 2);
      await page.mouse.down();
      await page.mouse.move((h.x + at.x) / 2, (h.y + at.y) / 2, { steps: 5 });
      await page.mouse.move(at.x, at.y, { steps: 5 });
      await page.mouse.up();
    };
    await dropFrom('start', 'out');
    const picker = page.getByRole('dialog', { name: 'Add a node and connect it' });
    await picker.waitFor();
    await picker.getByLabel('Search nodes').fill('assign');
    await page.keyboard.press('Enter');
    await node('assign').waitFor();
    await page.locator('.react-flow__edge[data-id="start:out->assign"]').waitFor({ state: 'attached' });
    assert(await picker.count() === 0, 'the picker closed');
    const added = await node('assign').boundingBox();
    assert(Math.abs(added.x + added.width / 2 - drop.x) < 40 && Math.abs(added.y - drop.y) < 40,
      `the new node is where the connection was dropped: ${JSON.stringify(added)} ${JSON.stringify(drop)}`);
    // One undo step takes back both the node and its edge.
    await pane.click({ position: { x: 10, y: 10 } });
    await page.keyboard.press('Control+z');
    await node('assign').waitFor({ state: 'detached' });
    assert(await page.locator('.react-flow__edge[data-id="start:out->assign"]').count() === 0, 'the edge went with it');
    await page.keyboard.press('Control+Shift+z');
    await node('assign').waitFor();
    // In Chinese; Escape closes without adding anything.
    await page.getByLabel('Language').selectOption('zh-CN');
    await dropFrom('assign', 'out', { x: c.x + c.width * 0.3, y: c.y + c.height * 0.8 });
    const zh = page.getByRole('dialog', { name: '添加节点并连接' });
    await zh.getByRole('option', { name: /发送短信/ }).waitFor();
    assert(await zh.getByRole('option', { name: /事件触发/ }).count() === 0, 'no triggers offered');
    await page.keyboard.press('Escape');
    await zh.waitFor({ state: 'detached' });
    assert(await page.locator('.react-flow__node').count() === 2, 'nothing added');
    await page.getByLabel('语言').selectOption('en');
  });

  await check('#11 a team is created inline where a team is chosen', async () => {
    await node('assign').click();
    await field('team').getByRole('button', { name: '+ New team' }).click();
    const form = field('team').getByRole('group', { name: 'New team' });
    await form.getByLabel(/^Team name/).fill('Night shift');
    await form.getByLabel('Name', { exact: true }).fill('Ana Li');
    await form.getByLabel('Phone (E.164)').fill('+15550003333');
    await form.getByRole('button', { name: 'Save team' }).click();
    await page.getByText('Team “Night shift” created and chosen').waitFor();
    const teams = await apiCall('GET', '/teams');
    const night = teams.items.find((x) => x.name === 'Night shift');
    assert(night && night.members.length === 1 && night.members[0].phone === '+15550003333', 'team stored: ' + JSON.stringify(night));
    assert((await field('team').locator('select').inputValue()) === night.id, 'the new team is chosen');
    await node('assign').locator('.opsnode-summary', { hasText: 'Night shift' }).waitFor();
    await page.getByLabel('Language').selectOption('zh-CN');
    await field('team').getByRole('button', { name: '+ 新建团队' }).waitFor();
    await page.getByLabel('语言').selectOption('en');
    // And where a template asks for a team: the form starts with the name the template uses.
    await page.keyboard.press('Control+s');
    await page.getByText(/Draft saved \(v2\)/).waitFor();
    await page.getByRole('link', { name: 'Templates' }).click();
    await page.locator('.card[data-template="payment-failed-support-sms"]').getByRole('button').click();
    const need = page.getByRole('dialog').locator('[data-need="Support"]');
    await need.getByRole('button', { name: '+ New team' }).click();
    const tplForm = need.getByRole('group', { name: 'New team' });
    assert((await tplForm.getByLabel(/^Team name/).inputValue()) === 'Support', 'the template\'s team name is offered');
    await tplForm.getByRole('button', { name: 'Save team' }).click();
    await waitFor(async () => (await need.locator('select').evaluate((el) => el.selectedOptions[0]?.textContent)) === 'Support',
      'the new team to be chosen', 15_000);
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
  });

  await check('#11 accepting a suggestion puts the caret right after it at once (mid-text)', async () => {
    const f = await apiCall('POST', '/flows', {
      schema: 'opsflow/v1', name: 'Caret', nodes: [
        { id: 'event', type: 'trigger.event', config: { event_type: 'caret.test', sample: { amount: 1 } }, position: { x: 0, y: 0 } },
        { id: 'condition', type: 'logic.condition', config: { expression: 'true' }, position: { x: 0, y: 140 } },
      ], edges: [{ from: 'event', to: 'condition' }],
    });
    await page.goto(`${ui}/flows/${f.id}`);
    await node('condition').click();
    const expr = field('expression').locator('textarea');
    await expr.fill('event.data. >= 100');
    await expr.evaluate((el) => el.setSelectionRange(11, 11));
    await expr.press('a');
    await page.getByRole('option', { name: 'event.data.amount' }).waitFor();
    // Enter and the caret read in one go, before any animation frame.
    const caret = await expr.evaluate(async (el) => {
      el.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
      for (let i = 0; i < 3; i++) await Promise.resolve(); // (React commits a discrete event's update in a microtask)
      return { value: el.value, at: el.selectionStart };
    });
    assert(caret.value === 'event.data.amount >= 100' && caret.at === 'event.data.amount'.length, 'caret: ' + JSON.stringify(caret));
    await expr.press('X');
    assert((await expr.inputValue()) === 'event.data.amountX >= 100', 'typed after the suggestion: ' + (await expr.inputValue()));
  });

  await check('#11 the node id field shows underscores whole', async () => {
    const id = page.locator('#node-id');
    await id.fill('big_amount_check');
    const fit = await id.evaluate((el) => {
      const cs = getComputedStyle(el);
      const ctx = document.createElement('canvas').getContext('2d');
      ctx.font = cs.font;
      const m = ctx.measureText(el.value);
      const px = (k) => parseFloat(cs[k]);
      const content = el.getBoundingClientRect().height - px('borderTopWidth') - px('borderBottomWidth') - px('paddingTop') - px('paddingBottom');
      const font = m.fontBoundingBoxAscent + m.fontBoundingBoxDescent;
      const line = cs.lineHeight === 'normal' ? font : parseFloat(cs.lineHeight);
      // The line box is centred in the content box and the glyphs in the line box.
      const baseline = (content - line) / 2 + (line - font) / 2 + m.fontBoundingBoxAscent;
      return { content, line, underscoreBottom: baseline + m.actualBoundingBoxDescent };
    });
    assert(fit.line <= fit.content + 0.5 && fit.underscoreBottom <= fit.content - 1, 'the underscores are cut: ' + JSON.stringify(fit));
    await id.press('Escape');
  });

  await check('#11 at 1024 px Publish stays on the toolbar row (both languages, also with the reason it is blocked)', async () => {
    await page.setViewportSize({ width: 1024, height: 800 });
    const oneRow = async (what) => {
      const back = await page.locator('.editor-toolbar .back').boundingBox();
      const publish = await page.locator('.editor-toolbar').getByRole('button', { name: /^(Publish|发布)$/ }).boundingBox();
      assert(Math.abs((publish.y + publish.height / 2) - (back.y + back.height / 2)) < 8 && publish.x + publish.width <= 1024,
        `${what}: Publish at ${JSON.stringify(publish)}, the row at ${JSON.stringify(back)}`);
    };
    await page.goto(`${ui}/flows/${flowId}`);
    await page.locator('.validity.good').waitFor();
    await oneRow('valid, English');
    await page.getByLabel('Language').selectOption('zh-CN');
    await oneRow('valid, Chinese');
    const broken = await apiCall('POST', '/flows', {
      schema: 'opsflow/v1', name: 'Not finished', nodes: [
        { id: 'start', type: 'trigger.manual', position: { x: 0, y: 0 } },
        { id: 'check', type: 'logic.condition', position: { x: 0, y: 140 } },
      ], edges: [{ from: 'start', to: 'check' }],
    });
    await page.goto(`${ui}/flows/${broken.id}`);
    await page.locator('.validity.bad').waitFor();
    await page.locator('#publish-blocked').waitFor();
    await oneRow('blocked, Chinese');
    await page.getByLabel('语言').selectOption('en');
    await oneRow('blocked, English');
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.getByRole('link', { name: 'Flows' }).first().click();
  });

  await check('Chinese UI', async () => {
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.getByRole('heading', { name: '流程' }).waitFor();
    await page.screenshot({ path: path.join(shots, 'flow-list-zh.png') });
    await page.getByRole('link', { name: 'Payment failed → billing team' }).click();
    await page.locator('.palette').getByText('触发器').waitFor();
    await node('condition').click();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(shots, 'canvas-zh.png') });
    await page.getByLabel('语言').selectOption('en');
  });

  await dashChecks({ page, ui, base, apiCall, check, assert, waitFor, shots, twilio, member, flowId, runId, node });

  await check('no console errors', async () => {
    // 401s (signed out, wrong password) and the editor's refused /users are expected answers, not errors.
    const errors = consoleErrors.filter((e) => !/status of 40[13]/.test(e));
    assert(errors.length === 0, 'console errors:\n' + errors.join('\n'));
  });

  if (process.env.E2E_SERVER_LOG === '1') console.log(srvLog);
}

/**
 * #13 Replay: the draft (amount >= 200) replayed over the events the live v1 (>= 100) really ran for
 * shows its summary and the changed event's paths on the canvas, sends nothing, and makes publishing ask.
 */
async function replayPanelChecks({ page, ui, apiCall, twilio, flowId }) {
  await check('#13 replay the draft on recorded events: progress, summary, paths on the canvas, publish asks', async () => {
    const ev = await apiCall('POST', '/events', {
      type: 'payment.failed', idempotency_key: 'e2e-replay-1',
      data: { payment_id: 'pay_44', amount: 150, currency: 'USD', customer: { name: 'Sam', phone: '+15557654323' } },
    });
    await waitFor(async () => (await apiCall('GET', `/runs/${ev.run_ids[0]}`)).status === 'succeeded', 'run of the 150 event', 60_000, 300);
    const sent = twilio.messages.length;
    await page.goto(`${ui}/flows/${flowId}`);
    await page.getByRole('tab', { name: 'Test run' }).click();
    await page.getByRole('heading', { name: 'Replay on recorded events' }).waitFor();
    await page.getByLabel('Version', { exact: true }).selectOption('draft');
    await page.getByLabel('Last N events').fill('50');
    await page.getByRole('button', { name: 'Replay', exact: true }).click();
    await page.locator('.replay-progress').waitFor();
    await page.locator('.replay-result[data-replay-status="succeeded"]').waitFor({ timeout: 30_000 });
    const line = await page.locator('.replay-line').textContent();
    assert(line === '2 unchanged, 1 no longer run sms', 'summary: ' + line);
    assert(await page.locator('.replay-chart li[data-outcome="action_removed:sms"]').count() === 1, 'a bar for the changed outcome');
    await page.locator(`.replay-table tr[data-event-id="${ev.event_id}"] button`).click();
    await page.locator('.opsnode[data-node-id="sms"][data-run-status="replay-removed"]').waitFor();
    await page.locator('.opsnode[data-node-id="condition"][data-run-status="succeeded"]').waitFor();
    const oldPath = await page.getByTestId('replay-old-path').textContent();
    assert(oldPath.includes('condition (true)') && oldPath.includes('sms'), 'old path: ' + oldPath);
    await page.screenshot({ path: path.join(shots, 'replay.png') });
    assert(twilio.messages.length === sent, 'the replay sent no SMS');
    // Publishing the draft asks first, with the summary; cancelled, v1 stays live.
    await page.getByRole('button', { name: 'Publish' }).click();
    const dialog = page.getByRole('alertdialog');
    await dialog.getByText('no longer run sms').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    const f = await apiCall('GET', `/flows/${flowId}`);
    assert(f.published_version === 1, 'still v1 live, got v' + f.published_version);
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.getByRole('heading', { name: '用历史事件回放' }).waitFor();
    await page.locator('.replay-line', { hasText: '不再执行 sms' }).waitFor();
    await page.getByLabel('语言').selectOption('en');
  });
}

let code = 0;
try {
  await main();
} catch (e) {
  code = 1;
  if (!failed) { failed++; console.log('  FAIL setup\n       ' + ((e && e.stack) || e)); }
} finally {
  for (const c of cleanups.reverse()) { try { await c(); } catch { /* ignore */ } }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(code || (failed ? 1 : 0));
