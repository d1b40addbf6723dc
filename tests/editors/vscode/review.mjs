// Drives a real VS Code (code-server) through a dream held for review (sleeptime.merge "review").
//
//   node review.mjs CONFIG.json
//
// CONFIG: {url, chromium, shots, profileDir, memoryDir, agentName}. A dream is run from the palette; its
// notification offers Review, which opens the multi-file diff editor; the status bar menu and the Memory
// view's title bar offer the review too; one file is accepted from the palette, the rest rejected from the
// Memory view. Each step asserts on the page (and on git where a decision lands), then saves a screenshot.
// Same conventions as drive.mjs: "step NAME ok", "FAILED step NAME: why" + failure.png, exit 1.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const TIMEOUT = 45_000;
let stepNumber = 0;
let current = 'start';

function git(...args) {
  return execFileSync('git', ['-C', config.memoryDir, ...args], { encoding: 'utf8' }).trim();
}

const browser = await chromium.launchPersistentContext(config.profileDir, {
  executablePath: config.chromium,
  headless: true,
  viewport: { width: 1400, height: 900 },
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
});
const page = browser.pages()[0] ?? await browser.newPage();
page.setDefaultTimeout(TIMEOUT);

async function shot(name) {
  await page.screenshot({ path: path.join(config.shots, name) });
}

async function step(name, body) {
  current = name;
  stepNumber += 1;
  const started = Date.now();
  await body();
  await page.waitForTimeout(500);
  await shot(`${String(stepNumber).padStart(2, '0')}-${name}.png`);
  console.log(`step ${name} ok (${Date.now() - started} ms)`);
}

async function runCommand(title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor();
  await page.keyboard.press('Enter');
}

async function pickQuickItem(text) {
  const row = page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();
  await row.waitFor();
  await row.click();
}

function toast(text) {
  return page.locator('.notification-toast', { hasText: text }).first();
}

function memoryRow(name) {
  return page.locator('.pane-body .monaco-list-row', { hasText: name }).first();
}

function viewAction(label) {
  return page.locator(`.pane-header .action-label[aria-label^="${label}"], ` +
    `.composite.title .action-label[aria-label^="${label}"]`).first();
}

async function waitUntil(what, predicate, timeout = TIMEOUT) {
  const deadline = Date.now() + timeout;
  let last;
  while (Date.now() < deadline) {
    try {
      last = await predicate();
      if (last) {
        return last;
      }
    } catch (error) {
      last = error;
    }
    await page.waitForTimeout(200);
  }
  throw new Error(`timed out waiting for ${what} (last: ${last})`);
}

async function clearNotifications() {
  await page.keyboard.press('Escape');
  const close = page.locator('.notification-toast .codicon-notifications-clear, .notification-toast .codicon-close');
  for (const button of await close.all()) {
    await button.click({ timeout: 1000 }).catch(() => undefined);
  }
}

function committed(file) {
  try {
    return git('show', `HEAD:${file}`);
  } catch {
    return null;
  }
}

async function reviewScenario() {
  const head = git('rev-parse', 'HEAD');
  await step('memory-view-before-the-dream', async () => {
    await page.goto(config.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.activitybar [aria-label^="Letta"]').first().click();
    await memoryRow('persona.md').waitFor({ timeout: 90_000 });
    await page.locator('.statusbar-item', { hasText: config.agentName }).first().waitFor();
  });

  await step('dream-announced-for-review', async () => {
    await runCommand('Letta: Dream');
    const notice = toast('memory file(s); they wait for your review');
    await notice.waitFor({ timeout: 90_000 });
    await notice.locator('.monaco-button', { hasText: 'Review' }).first().waitFor();
    await page.locator('.tabs-container .tab', { hasText: 'Letta Dream' }).first().waitFor(); // the report
    await toast('done, 0 commits; its changes wait for your review').waitFor();
    if (git('rev-parse', 'HEAD') !== head) {
      throw new Error('the dream reached main before the review');
    }
  });

  await step('multi-file-diff-from-the-notification', async () => {
    const notice = toast('memory file(s); they wait for your review');
    await notice.locator('.monaco-button', { hasText: /^Review$/ }).first().click();
    await page.locator('.tabs-container .tab.active', { hasText: 'Dream review' }).first().waitFor();
    await page.locator('.monaco-editor .view-line:visible', { hasText: "The user's name is Dana." }).first().waitFor();
    await page.locator('.monaco-editor .view-line:visible', { hasText: 'Deploys happen on Fridays.' }).first()
      .waitFor();
    for (const name of ['human.md', 'deploys.md']) {
      await page.locator('.multiDiffEditor', { hasText: name }).first().waitFor();
    }
  });

  await step('status-bar-menu-offers-the-review', async () => {
    await page.locator('.statusbar-item', { hasText: config.agentName }).first().click();
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Review Dream (2 change(s))' }).first()
      .waitFor();
  });
  await page.keyboard.press('Escape');

  await step('memory-view-offers-accept-and-reject', async () => {
    await viewAction('Review Dream').waitFor();
    await viewAction('Accept All Dream Changes').waitFor();
    await viewAction('Reject All Dream Changes').waitFor();
  });

  await step('accept-one-file-from-the-palette', async () => {
    await clearNotifications();
    await runCommand('Letta: Accept This Dream Change');
    await pickQuickItem('system/human.md');
    await toast('accepted 1 file(s): system/human.md').waitFor();
    await waitUntil('the accepted file on main', () => (committed('system/human.md') ?? '')
      .includes("The user's name is Dana."));
    if (committed('team/deploys.md') !== null) {
      throw new Error('accepting one file merged the other too');
    }
  });

  await step('reject-the-rest-from-the-memory-view', async () => {
    await clearNotifications();
    await viewAction('Reject All Dream Changes').click();
    await toast('rejected 1 file(s): team/deploys.md').waitFor();
    await waitUntil('the review actions to leave the Memory view', async () =>
      (await viewAction('Reject All Dream Changes').count()) === 0);
    if (committed('team/deploys.md') !== null) {
      throw new Error('the rejected file reached main');
    }
  });
}

try {
  await reviewScenario();
  console.log('all steps passed');
  await browser.close();
} catch (error) {
  console.log(`FAILED step ${current}: ${error?.stack ?? error}`);
  try {
    await shot('failure.png');
    const toasts = await page.locator('.notification-toast').allInnerTexts();
    console.log(`visible notifications: ${JSON.stringify(toasts)}`);
  } catch (inner) {
    console.log(`(no failure screenshot: ${inner})`);
  }
  await browser.close().catch(() => undefined);
  process.exit(1);
}
