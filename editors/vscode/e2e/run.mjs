#!/usr/bin/env node
// End-to-end test of the crossnav extension in the real VS Code workbench: code-server 4.100.3 (VS
// Code 1.100) with the built .vsix installed into a fresh extensions dir, driven through headless
// Chromium by playwright-core. The fixture org of the Python test suite is built and indexed with the
// real CLI; the workbench opens the ledger repo and every check reads the DOM (tabs, breadcrumbs,
// status bar, hover widget, peek view, quick input).
//
//   node e2e/run.mjs [--python PY] [--server-path EXE] [--vsix FILE] [--keep] [--timeout-scale N]
//
// --python       interpreter with crossnav installed (default $CROSSNAV_PYTHON, else python3)
// --server-path  set crossnav.server.path instead (e2e/hang-server.sh checks that the test fails)
// --vsix         the package to install (default crossnav.vsix next to package.json)
// --keep         keep the work dir (logs, settings, fixture) for inspection
// Exit status 0 only if every scenario passed. Screenshots of failures go to e2e/artifacts/.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const HERE = dirname(fileURLToPath(import.meta.url));
const EXT_DIR = resolve(HERE, '..');
const { values: opt } = parseArgs({
  options: {
    python: { type: 'string', default: process.env.CROSSNAV_PYTHON || 'python3' },
    'server-path': { type: 'string' },
    vsix: { type: 'string', default: join(EXT_DIR, 'crossnav.vsix') },
    'code-server': { type: 'string' },
    chromium: { type: 'string', default: process.env.CHROMIUM || '/usr/bin/chromium' },
    keep: { type: 'boolean', default: false },
    'timeout-scale': { type: 'string', default: process.env.CROSSNAV_E2E_TIMEOUT_SCALE || '1' },
  },
});
const SCALE = Number(opt['timeout-scale']) || 1;
const T = (ms) => Math.round(ms * SCALE);
const t0 = Date.now();
const secs = (since = t0) => `${((Date.now() - since) / 1000).toFixed(1)} s`;
const log = (msg) => console.log(`[e2e ${secs()}] ${msg}`);

// ------------------------------------------------------------------------------------ setup

function sh(cmd, args, options = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...options });
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.error}):\n${r.stdout ?? ''}\n${r.stderr ?? ''}`);
  }
  return r.stdout;
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

async function waitHttp(url, ms) {
  const end = Date.now() + ms;
  for (;;) {
    try {
      const r = await fetch(url);
      if (r.ok) {
        return;
      }
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      throw new Error(`${url} did not answer within ${ms} ms`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function findFiles(dir, test, out = []) {
  if (!existsSync(dir)) {
    return out;
  }
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      findFiles(p, test, out);
    } else if (test(p)) {
      out.push(p);
    }
  }
  return out;
}

if (!existsSync(opt.vsix)) {
  console.error(`e2e: ${opt.vsix} not found; run \`npm run package\` first`);
  process.exit(2);
}
const codeServer = opt['code-server']
  || sh(join(HERE, 'install-code-server.sh'), [], { stdio: ['ignore', 'pipe', 'inherit'] }).trim();
log(`code-server: ${codeServer}`);

rmSync(join(HERE, 'artifacts'), { recursive: true, force: true });
const W = mkdtempSync(join(tmpdir(), 'crossnav-e2e-'));
const TMP = join(W, 'tmp');
mkdirSync(TMP);
const env = {
  ...process.env,
  TMPDIR: TMP,
  XDG_CONFIG_HOME: join(W, 'xdg-config'),
  XDG_DATA_HOME: join(W, 'xdg-data'),
  XDG_CACHE_HOME: join(W, 'xdg-cache'),
  VSCODE_CLI: '1', // let the extension host inherit this environment (Debian's /etc/profile resets PATH)
};

const fixture = JSON.parse(sh(opt.python, [join(HERE, 'build_fixture.py'), join(W, 'org')], { env }));
const LEDGER = fixture.repos.ledger;
log(`fixture org indexed into ${fixture.db}`);

const udd = join(W, 'udd');
const extDir = join(W, 'ext');
mkdirSync(join(udd, 'User'), { recursive: true });
writeFileSync(join(W, 'config.yaml'), 'auth: none\n');
const settings = {
  'crossnav.db': fixture.db,
  ...(opt['server-path'] ? { 'crossnav.server.path': resolve(opt['server-path']) } : { 'crossnav.server.python': opt.python }),
  'crossnav.trace.server': 'messages',
  'workbench.startupEditor': 'none',
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'security.workspace.trust.enabled': false,
  'git.openRepositoryInParentFolders': 'never',
  'chat.disableAIFeatures': true,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'workbench.tips.enabled': false,
  'editor.hover.delay': 150,
};
writeFileSync(join(udd, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
const csArgs = ['--config', join(W, 'config.yaml'), '--user-data-dir', udd, '--extensions-dir', extDir];
sh(codeServer, [...csArgs, '--install-extension', opt.vsix], { env });
log('extension installed');

const port = await freePort();
const csLog = join(W, 'code-server.log');
writeFileSync(csLog, '');
const { openSync } = await import('node:fs');
const logFd = openSync(csLog, 'a');
const cs = spawn(codeServer, [...csArgs, '--auth', 'none', '--bind-addr', `127.0.0.1:${port}`, '--disable-telemetry',
  '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', LEDGER],
{ env, detached: true, stdio: ['ignore', logFd, logFd] }); // detached: own process group, killed as a group
await waitHttp(`http://127.0.0.1:${port}/healthz`, T(30_000));
log(`code-server listening on ${port}`);

const profile = mkdtempSync(join(W, 'chromium-'));
const ctx = await chromium.launchPersistentContext(profile, {
  executablePath: opt.chromium,
  headless: true,
  viewport: { width: 1600, height: 1000 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync'],
});
await ctx.route('**/*', (route) => {
  const host = new URL(route.request().url()).hostname;
  return host === '127.0.0.1' || host === 'localhost' ? route.continue() : route.abort();
});
const page = ctx.pages()[0] ?? await ctx.newPage();

async function cleanup() {
  await ctx.close().catch(() => undefined);
  try {
    process.kill(-cs.pid, 'SIGTERM');
  } catch {
    // already gone
  }
  await new Promise((r) => setTimeout(r, 300));
  try {
    process.kill(-cs.pid, 'SIGKILL');
  } catch {
    // gone
  }
}

// ------------------------------------------------------------------------------------ helpers

const statusbar = page.locator('.statusbar');
const activeTab = page.locator('.tabs-container .tab.active');
const quickInput = page.locator('.quick-input-widget');
const quickInputBox = page.locator('.quick-input-widget input');

async function expectText(locator, text, ms = 20_000) {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout: T(ms) });
}

async function quickOpen(file) {
  await page.keyboard.press('Control+p');
  await quickInputBox.waitFor({ state: 'visible', timeout: T(10_000) });
  await quickInputBox.fill(file);
  // old history rows stay until the filter applies: wait for the highlighted row to be the file
  await expectText(page.locator('.quick-input-list .monaco-list-row.focused'), file, 10_000);
  await page.keyboard.press('Enter');
  await expectText(activeTab, file);
}

async function goToLine(line, col) {
  await page.keyboard.press('Control+g');
  await quickInputBox.waitFor({ state: 'visible', timeout: T(10_000) });
  await quickInputBox.fill(`:${line}:${col}`); // Ctrl+G opens the quick input on ":"
  await expectText(page.locator('.quick-input-list .monaco-list-row'), `line ${line}`, 10_000);
  await page.keyboard.press('Enter');
  await expectText(statusbar, `Ln ${line}, Col ${col}`);
}

async function runCommand(title) {
  await page.keyboard.press('F1');
  await quickInputBox.waitFor({ state: 'visible', timeout: T(10_000) });
  await quickInputBox.fill(`>${title}`);
  await expectText(page.locator('.quick-input-list .monaco-list-row.focused'), title, 10_000);
  await page.keyboard.press('Enter');
}

async function hoverAtCursor() {
  await page.mouse.move(5, 5);
  const box = await page.locator('.editor-instance .cursors-layer .cursor').first().boundingBox();
  if (!box) {
    throw new Error('no cursor box to hover');
  }
  await page.mouse.move(box.x + 6, box.y + box.height / 2);
}

const results = [];
let failed = 0;
async function scenario(name, fn) {
  const start = Date.now();
  try {
    await fn();
    results.push({ name, ok: true, time: secs(start) });
    log(`PASS ${name} (${secs(start)})`);
  } catch (e) {
    failed += 1;
    results.push({ name, ok: false, time: secs(start) });
    log(`FAIL ${name} (${secs(start)}): ${String(e.message ?? e).split('\n').slice(0, 6).join('\n    ')}`);
    const dir = join(HERE, 'artifacts');
    mkdirSync(dir, { recursive: true });
    const shot = join(dir, `${name.replace(/\W+/g, '-')}.png`);
    await page.screenshot({ path: shot }).catch(() => undefined);
    log(`  screenshot: ${shot}`);
    await page.keyboard.press('Escape').catch(() => undefined);
  }
}

// ------------------------------------------------------------------------------------ scenarios

const [policyLineOf] = [(needle) => readFileSync(join(fixture.repos.payments, 'src/payments/retry/policy.py'), 'utf8')
  .split('\n').findIndex((l) => l.includes(needle)) + 1];
const BACKOFF_LINE = policyLineOf('class Backoff');
const COMPUTE_DELAY_LINE = policyLineOf('def compute_delay');
const coreLines = readFileSync(join(LEDGER, 'ledger/core.py'), 'utf8').split('\n');
const BO_LINE = coreLines.findIndex((l) => l.includes('policy = BO(base')) + 1;
const BO_COL = coreLines[BO_LINE - 1].indexOf('BO(') + 1;

await scenario('workbench opens ledger/core.py', async () => {
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(LEDGER)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: T(60_000) });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: T(60_000) });
  await quickOpen('core.py');
});

const REPO_COUNT = Object.keys(fixture.repos).length;   // the Python org and the Go org
await scenario(`status bar shows the index: ${REPO_COUNT} repos`, async () => {
  await expectText(statusbar, `crossnav: ${REPO_COUNT} repos`, 45_000);
});

await scenario('hover shows the owner and the contribution link', async () => {
  await goToLine(BO_LINE, BO_COL);
  await hoverAtCursor();
  const hover = page.locator('.monaco-hover:not(.hidden)');
  await expectText(hover, '@alice', 20_000);
  const text = await hover.filter({ hasText: '@alice' }).first().innerText();
  for (const want of ['class Backoff', '@acme/reliability', '.github/CODEOWNERS', 'line 4', 'Contribute', 'CONTRIBUTING.md']) {
    if (!text.includes(want)) {
      throw new Error(`hover lacks ${JSON.stringify(want)}:\n${text}`);
    }
  }
  const link = hover.locator(`a[data-href*="github.com/acme/payments/blob/${fixture.heads.payments}/CONTRIBUTING.md"], `
    + `a[href*="github.com/acme/payments/blob/${fixture.heads.payments}/CONTRIBUTING.md"]`);
  if (await link.count() === 0) {
    throw new Error(`hover has no link to payments' CONTRIBUTING.md:\n${await hover.first().innerHTML()}`);
  }
  await page.mouse.move(5, 5);
  await page.keyboard.press('Escape');
});

await scenario('F12 jumps into the payments repo', async () => {
  await goToLine(BO_LINE, BO_COL);
  await page.keyboard.press('F12');
  await expectText(activeTab, 'policy.py');
  await expectText(statusbar, `Ln ${BACKOFF_LINE},`);
  const crumbs = await page.locator('.breadcrumbs-control').first().innerText();
  if (!crumbs.includes('payments') || !crumbs.includes('policy.py')) {
    throw new Error(`breadcrumbs do not name the payments repo: ${JSON.stringify(crumbs)}`);
  }
});

await scenario('Shift+F12 lists references in several repos', async () => {
  await expectText(activeTab, 'policy.py', 5_000);
  const col = readFileSync(join(fixture.repos.payments, 'src/payments/retry/policy.py'), 'utf8')
    .split('\n')[COMPUTE_DELAY_LINE - 1].indexOf('compute_delay') + 1;
  await goToLine(COMPUTE_DELAY_LINE, col + 2);
  await page.keyboard.press('Shift+F12');
  const tree = page.locator('.peekview-widget .ref-tree');
  await expectText(tree, 'core.py', 20_000);
  const text = await tree.first().innerText();
  for (const file of ['policy.py', 'core.py', 'fees.py']) {  // payments, ledger, ledger
    if (!text.includes(file)) {
      throw new Error(`references lack ${file}:\n${text}`);
    }
  }
  const title = await page.locator('.peekview-widget .peekview-title').first().innerText();
  if (!text.includes('payments') || !text.includes('ledger')) {  // rows describe each file's folder
    throw new Error(`references tree does not show both repos:\n${text}`);
  }
  const m = title.match(/References \((\d+)\)|(\d+) references?/i);
  if (!m || Number(m[1] ?? m[2]) < 4) {
    throw new Error(`expected at least 4 references, peek title says ${JSON.stringify(title)}`);
  }
  await page.keyboard.press('Escape');
});

await scenario('search command finds Backoff in payments', async () => {
  await runCommand('crossnav: Search symbols across repositories');
  await expectText(quickInput, 'Search symbols across repositories', 10_000);
  await quickInputBox.fill('Backoff');
  const row = page.locator('.quick-input-list .monaco-list-row').filter({ hasText: 'payments.retry.policy.Backoff' });
  await row.first().waitFor({ timeout: T(20_000) });
  const text = await row.first().innerText();
  if (!text.includes('Backoff') || !text.includes('payments ·')) {
    throw new Error(`search row lacks name/repo: ${JSON.stringify(text)}`);
  }
  await row.first().click();
  await expectText(activeTab, 'policy.py');
  await expectText(statusbar, `Ln ${BACKOFF_LINE},`);
});

await scenario('code search lists ledger matches by repo and opens one', async () => {
  const feesLine = readFileSync(join(LEDGER, 'ledger/fees.py'), 'utf8').split('\n')
    .findIndex((l) => l.includes('compute_delay(')) + 1;
  await runCommand('crossnav: Search code across repositories');
  await expectText(quickInput, 'Search code across repositories', 10_000);
  // a bad query: the error and its column, and the picker stays open
  await quickInputBox.fill('compute_delay repo:(');
  await expectText(quickInput, 'column 21', 20_000);
  await expectText(page.locator('.quick-input-list .monaco-list-row'), 'column 21', 5_000);
  await quickInputBox.fill('compute_delay repo:ledger');
  const rows = page.locator('.quick-input-list .monaco-list-row');
  await expectText(rows, 'ledger/fees.py', 20_000);
  await expectText(rows, 'ledger/core.py', 5_000);
  const texts = await rows.allInnerTexts();
  const all = texts.join('\n');
  if (texts.some((t) => /payments|policy\.py/.test(t))) {
    throw new Error(`repo:ledger listed a payments row:\n${all}`);
  }
  for (const want of ['ledger · ', `ledger/fees.py:${feesLine}`, 'compute_delay(attempt)', '@acme/finance']) {
    if (!all.includes(want)) {
      throw new Error(`code search rows lack ${JSON.stringify(want)}:\n${all}`);
    }
  }
  if (/column \d+/.test(await quickInput.first().innerText())) {
    throw new Error('the error of the previous query is still shown');
  }
  await rows.filter({ hasText: 'ledger/fees.py' }).first().click();
  await expectText(activeTab, 'fees.py');
  await expectText(statusbar, `Ln ${feesLine},`);
});

await scenario('show owners lists the deciding rule', async () => {
  await quickOpen('core.py');
  await goToLine(BO_LINE, BO_COL);
  await runCommand('crossnav: Show owners of this file/symbol');
  const list = page.locator('.quick-input-list');
  await expectText(list, '@alice', 20_000);
  const text = await list.first().innerText();
  for (const want of ['@acme/reliability', '.github/CODEOWNERS:4', 'Open the contribution guide']) {
    if (!text.includes(want)) {
      throw new Error(`owners list lacks ${JSON.stringify(want)}:\n${text}`);
    }
  }
  await page.keyboard.press('Escape');
});

await scenario('F12 in a Go file jumps into another team\'s Go repo', async () => {
  const svc = readFileSync(join(fixture.repos['payments-go'], 'service/service.go'), 'utf8').split('\n');
  const useLine = svc.findIndex((l) => l.includes('plog.New("svc")')) + 1;
  const useCol = svc[useLine - 1].indexOf('New(') + 1;
  const newLine = readFileSync(join(fixture.repos['platform-go'], 'log/log.go'), 'utf8').split('\n')
    .findIndex((l) => l.startsWith('func New(')) + 1;
  await page.goto(`http://127.0.0.1:${port}/?folder=${encodeURIComponent(fixture.repos['payments-go'])}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: T(60_000) });
  await page.locator('.explorer-folders-view .monaco-list-row').first().waitFor({ timeout: T(60_000) });
  await quickOpen('service.go');
  await expectText(statusbar, `crossnav: ${REPO_COUNT} repos`, 45_000);  // the extension started for a Go file
  // Go indents with tabs: the status bar's Col counts a tab as 4, so wait for the line only
  await page.keyboard.press('Control+g');
  await quickInputBox.waitFor({ state: 'visible', timeout: T(10_000) });
  await quickInputBox.fill(`:${useLine}:${useCol}`);
  await expectText(page.locator('.quick-input-list .monaco-list-row'), `line ${useLine}`, 10_000);
  await page.keyboard.press('Enter');
  await expectText(statusbar, `Ln ${useLine}, Col ${useCol + 3}`);
  await page.keyboard.press('F12');
  await expectText(activeTab, 'log.go');
  await expectText(statusbar, `Ln ${newLine},`);
  const crumbs = await page.locator('.breadcrumbs-control').first().innerText();
  if (!crumbs.includes('platform-go') || crumbs.includes('vendor')) {
    throw new Error(`breadcrumbs do not name platform-go's own log.go: ${JSON.stringify(crumbs)}`);
  }
});

await scenario('a missing server is reported with what to do', async () => {
  // edit the user settings as a user would: the extension restarts the server and cannot find it
  const missing = join(W, 'no-such-venv', 'bin', 'python');
  await runCommand('Preferences: Open User Settings (JSON)');
  await expectText(activeTab, 'settings.json');
  const lines = page.locator('.editor-instance .monaco-editor .view-lines');
  await expectText(lines, 'crossnav.db', 10_000); // loaded
  await lines.first().click();                              // focused
  await page.keyboard.press('Control+a');
  await page.keyboard.insertText(JSON.stringify({ ...settings, 'crossnav.server.path': '', 'crossnav.server.python': missing }, null, 2));
  await expectText(lines, 'no-such-venv', 10_000);
  await page.keyboard.press('Control+s');
  await page.locator('.tabs-container .tab.active.dirty').waitFor({ state: 'detached', timeout: T(10_000) });
  const toast = page.locator('.notifications-toasts .notification-toast');
  await expectText(toast, 'which was not found', 20_000);
  const text = await toast.filter({ hasText: 'which was not found' }).first().innerText();
  for (const want of [missing, 'crossnav.server.python', 'Open Settings']) {
    if (!text.includes(want)) {
      throw new Error(`error notification lacks ${JSON.stringify(want)}:\n${text}`);
    }
  }
  await expectText(statusbar, 'crossnav: server not running', 10_000);
});

// ------------------------------------------------------------------------------------ report

await cleanup();
const outputLogs = findFiles(join(udd, 'logs'), (p) => /crossnav[^/]*\.log$/i.test(p));
if (failed) {
  for (const f of outputLogs) {
    console.log(`----- ${f} (last 40 lines)\n${readFileSync(f, 'utf8').split('\n').slice(-40).join('\n')}`);
  }
  console.log(`----- code-server log (last 20 lines)\n${readFileSync(csLog, 'utf8').split('\n').slice(-20).join('\n')}`);
}
console.log(`\n${results.map((r) => `${r.ok ? 'PASS' : 'FAIL'}  ${r.name}  (${r.time})`).join('\n')}`);
console.log(`${results.length - failed}/${results.length} scenarios passed in ${secs()}`);
if (opt.keep) {
  console.log(`work dir kept: ${W}`);
} else {
  rmSync(W, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
