// What drive.mjs and review.mjs share: headless Chromium on code-server, numbered steps that each save a
// screenshot, the palette and quick-pick helpers, and the failure report ("FAILED step NAME: why",
// failure.png, the visible notifications, exit 1).

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

export const TIMEOUT = 45_000;

/** Read CONFIG.json (the first argument), open the browser, and return the page and the helpers.
 * `settleMs`: how long each step waits for animations before its screenshot. */
export async function startDriver({ settleMs }) {
  const config = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
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
  const consoleErrors = [];
  page.on('console', (message) => {
    if (message.type() === 'error') {
      consoleErrors.push(message.text().slice(0, 500));
    }
  });

  async function shot(name) {
    await page.screenshot({ path: path.join(config.shots, name) });
  }

  async function step(name, body) {
    current = name;
    stepNumber += 1;
    const started = Date.now();
    await body();
    await page.waitForTimeout(settleMs); // let animations settle so the picture shows the end state
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

  async function clearNotifications() {
    await page.keyboard.press('Escape');
    const close = page.locator('.notification-toast .codicon-notifications-clear, .notification-toast .codicon-close');
    for (const button of await close.all()) {
      await button.click({ timeout: 1000 }).catch(() => undefined);
    }
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

  /** Run `scenario`; on failure report the step, a screenshot and the visible notifications (plus the
   * browser's console errors when `showConsoleErrors`), and exit 1. */
  async function run(scenario, { showConsoleErrors = false } = {}) {
    try {
      await scenario();
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
      if (showConsoleErrors) {
        console.log(`browser console errors: ${JSON.stringify(consoleErrors.slice(-20), null, 1)}`);
      }
      await browser.close().catch(() => undefined);
      process.exit(1);
    }
  }

  return {
    config, page, git, shot, step, runCommand, pickQuickItem, toast, memoryRow, clearNotifications, waitUntil, run,
  };
}
