// Drives a real VS Code (code-server) through a dream held for review (sleeptime.merge "review").
//
//   node review.mjs CONFIG.json
//
// CONFIG: {url, chromium, shots, profileDir, memoryDir, agentName}. A dream is run from the palette; its
// notification offers Review, which opens the multi-file diff editor; the status bar menu and the Memory
// view's title bar offer the review too; one file is accepted from the palette, the rest rejected from the
// Memory view. Each step asserts on the page (and on git where a decision lands), then saves a screenshot.
// Same conventions as drive.mjs: "step NAME ok", "FAILED step NAME: why" + failure.png, exit 1.

import { startDriver } from './browser.mjs';

const {
  config, page, git, step, runCommand, pickQuickItem, toast, memoryRow, clearNotifications, waitUntil, run,
} = await startDriver({ settleMs: 500 });

function viewAction(label) {
  return page.locator(`.pane-header .action-label[aria-label^="${label}"], ` +
    `.composite.title .action-label[aria-label^="${label}"]`).first();
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

await run(reviewScenario);
