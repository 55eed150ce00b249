// Issue #11, beyond the fix list: a node tested on pinned input in the property panel, the
// dashboard, and compressed, cached, code-split assets. Called by run.mjs with its page and helpers.
import path from 'node:path';

export async function dashChecks({ page, ui, base, apiCall, check, assert, waitFor, shots, twilio, member, flowId, runId, node }) {
  const runTest = async () => {
    const before = await page.getByTestId('node-test-result').count() ? await page.getByTestId('node-test-result').textContent() : null;
    await page.locator('.node-test button.primary').click();
    await waitFor(async () => (await page.getByTestId('node-test-result').count()) && (await page.getByTestId('node-test-result').textContent()) !== before, 'the node test result');
    return page.getByTestId('node-test-result');
  };

  await check('#11 a node is tested on a recent run\'s data or edited JSON in the panel, and an SMS node sends nothing', async () => {
    await page.goto(`${ui}/flows/${flowId}`);
    await node('condition').click();
    await page.locator('.node-test summary', { hasText: 'Test this node' }).click();
    // The run that sent an SMS for 250 takes the true branch.
    await page.locator(`#node-test-source option[value="${runId}"]`).waitFor({ state: 'attached' });
    await page.locator('#node-test-source').selectOption(runId);
    await waitFor(async () => (await page.locator('#node-test-json').inputValue()).includes('pay_42'), 'the run\'s data in the editor');
    let res = await runTest();
    assert(await res.getAttribute('data-port') === 'true', 'port on the run\'s data: ' + await res.textContent());
    await res.getByText('Branch: true').waitFor();
    // Edited JSON: a small amount takes the false branch.
    await page.locator('#node-test-json').fill('{"event": {"data": {"amount": 10}}, "nodes": {}}');
    res = await runTest();
    assert(await res.getAttribute('data-port') === 'false', 'port on edited data: ' + await res.textContent());
    // The SMS action answers with what it would send and sends nothing; nothing is recorded.
    const sent = twilio.messages.length;
    const runs = (await apiCall('GET', `/runs?flow_id=${flowId}&limit=200`)).items.length;
    await node('sms').click();
    await page.locator('.node-test summary').click();
    await page.locator('#node-test-source').selectOption(runId);
    await waitFor(async () => (await page.locator('#node-test-json').inputValue()).includes('pay_42'), 'the run\'s data in the editor');
    res = await runTest();
    assert(await res.getAttribute('data-dry-run') === 'true', 'sms dry run: ' + await res.textContent());
    await res.getByText('Not performed (dry run)').waitFor();
    assert((await res.textContent()).includes(member.phone), 'the resolved recipient is shown: ' + await res.textContent());
    assert(twilio.messages.length === sent, 'the node test sent an SMS');
    assert((await apiCall('GET', `/runs?flow_id=${flowId}&limit=200`)).items.length === runs, 'the node test recorded a run');
  });

  await check('#11 the node test in Chinese', async () => {
    await page.getByLabel('Language').selectOption('zh-CN');
    await node('condition').click();
    await page.locator('.node-test summary', { hasText: '测试此节点' }).click();
    await page.locator('#node-test-source').selectOption(runId);
    await waitFor(async () => (await page.locator('#node-test-json').inputValue()).includes('pay_42'), 'the run\'s data in the editor');
    const res = await runTest();
    await res.getByText('分支：是').waitFor();
    await page.getByLabel('语言').selectOption('en');
  });

  let failedRuns = [];
  await check('#11 the dashboard charts runs per hour and success rate, with p50/p95 and the failing node linking to its failed runs', async () => {
    // A run that fails at the SMS (the earlier failed run was retried in place).
    twilio.state.failNext = 1;
    const ev = await apiCall('POST', '/events', {
      type: 'payment.failed', idempotency_key: 'e2e-dash-1',
      data: { payment_id: 'pay_44', amount: 400, currency: 'USD', customer: { name: 'Jo', phone: '+15557654323' } },
    });
    await waitFor(async () => (await apiCall('GET', `/runs/${ev.run_ids[0]}`)).status === 'failed', 'run to fail', 60_000, 400);
    failedRuns = (await apiCall('GET', `/runs?flow_id=${flowId}&status=failed&failed_node=sms`)).items;
    assert(failedRuns.some((r) => r.id === ev.run_ids[0]), 'the failed run is listed as failed at sms: ' + JSON.stringify(failedRuns));
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.locator('[data-testid="chart-runs"] canvas').waitFor();
    await page.locator('[data-testid="chart-rate"] canvas').waitFor();
    await page.locator('[data-testid="chart-runs"] .u-legend', { hasText: 'Succeeded' }).waitFor();
    const row = page.locator('.dash-flows tr', { hasText: 'Payment failed → billing team' });
    await row.waitFor();
    assert(/\d+ ms|\d+\.\d s/.test(await row.textContent()), 'p50/p95 shown: ' + await row.textContent());
    const nodeRow = page.locator('.dash-nodes tr').filter({ hasText: 'Payment failed → billing team' }).filter({ hasText: 'sms' });
    await nodeRow.getByRole('link', { name: `${failedRuns.length} failed`, exact: true }).waitFor();
    await page.waitForTimeout(300);
    await page.screenshot({ path: path.join(shots, 'dashboard.png') });
    await nodeRow.getByRole('link', { name: `${failedRuns.length} failed`, exact: true }).click();
    await page.waitForURL(/\/runs\?.*failed_node=sms/);
    await page.getByTestId('failed-node-filter').waitFor();
    await waitFor(async () => (await page.locator('.runs-table tbody tr').count()) === failedRuns.length, 'the failed runs listed');
    const ids = await page.locator('.runs-table .run-id').evaluateAll((els) => els.map((e) => e.getAttribute('title')));
    assert(ids.every((id) => failedRuns.some((r) => r.id === id)), 'only the failed runs: ' + ids.join(' '));
  });

  await check('#11 the dashboard in Chinese', async () => {
    await page.getByLabel('Language').selectOption('zh-CN');
    await page.getByRole('link', { name: '仪表盘' }).click();
    await page.getByRole('heading', { name: '仪表盘' }).waitFor();
    await page.locator('[data-testid="chart-runs"] figcaption', { hasText: '每小时运行次数' }).waitFor();
    await page.locator('[data-testid="chart-runs"] .u-legend', { hasText: '成功' }).waitFor();
    await page.locator('.dash-nodes').getByRole('link', { name: `${failedRuns.length} 次失败运行` }).waitFor();
    await page.getByLabel('语言').selectOption('en');
  });

  await check('#11 assets go out precompressed and cached; the editor is loaded only when opened', async () => {
    const html = await (await fetch(base + '/')).text();
    const js = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
    assert(js, 'the entry script in index.html');
    const plain = await fetch(base + js, { headers: { 'Accept-Encoding': 'identity' } });
    const size = (await plain.arrayBuffer()).byteLength;
    for (const enc of ['br', 'gzip']) {
      // fetch decodes the body; the headers say what was sent.
      const res = await fetch(base + js, { headers: { 'Accept-Encoding': enc } });
      assert(res.headers.get('content-encoding') === enc, `${enc}: content-encoding ${res.headers.get('content-encoding')}`);
      assert(/javascript/.test(res.headers.get('content-type')), 'content-type ' + res.headers.get('content-type'));
      assert(res.headers.get('cache-control') === 'public, max-age=31536000, immutable', 'cache-control ' + res.headers.get('cache-control'));
      assert(res.headers.get('vary') === 'Accept-Encoding', 'vary ' + res.headers.get('vary'));
      assert(Number(res.headers.get('content-length')) < size / 2, `${enc} is ${res.headers.get('content-length')} of ${size} bytes`);
    }
    const index = await fetch(base + '/dashboard');
    assert(index.headers.get('cache-control') === 'no-cache' && /text\/html/.test(index.headers.get('content-type')), 'the SPA fallback');
    // A fresh page of the flow list loads no editor code; opening a flow does (built assets only).
    if (ui !== base) return;
    await page.goto(`${ui}/flows`);
    await page.getByRole('link', { name: 'Payment failed → billing team' }).waitFor();
    const loaded = () => page.evaluate(() => performance.getEntriesByType('resource').map((e) => e.name));
    assert(!(await loaded()).some((n) => /\/assets\/EditorPage-/.test(n)), 'the list page loaded the editor: ' + (await loaded()).join(' '));
    await page.getByRole('link', { name: 'Payment failed → billing team' }).click();
    await node('condition').waitFor();
    assert((await loaded()).some((n) => /\/assets\/EditorPage-/.test(n)), 'the editor chunk was not loaded on demand');
  });
}
