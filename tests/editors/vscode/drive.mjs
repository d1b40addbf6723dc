// Drives a real VS Code (code-server) in headless Chromium through the letta extension's scenario.
//
//   node drive.mjs CONFIG.json
//
// CONFIG: {scenario, url, chromium, shots, profileDir, ...} plus what the scenario needs (main: agentName,
// memoryDir, chatMessage, chatReply; bad-server-command: command). Each step
// asserts on the DOM (and, where the extension's effect is a commit, on the memory repository through
// git), then saves a screenshot into `shots` for a person to look at. Progress goes to stdout as
// "step NAME ok (ms)"; the first failure prints "FAILED step NAME: why", saves failure.png plus the
// visible notifications, and exits 1. Assertions a test should make on files happen in Python after.

import fs from 'node:fs';
import path from 'node:path';

import { startDriver } from './browser.mjs';

const {
  config, page, git, step, runCommand, pickQuickItem, toast, memoryRow, clearNotifications, waitUntil, run,
} = await startDriver({ settleMs: 300 });

function tab(text) {
  return page.locator('.tabs-container .tab', { hasText: text }).first();
}

/** Right-click a Memory view row and choose a context menu item. VS Code ignores a click that comes too
 * soon after the menu opened (it guards against the right-click's own mouse-up), so wait, and if the menu
 * is still open afterwards, choose the focused item with Enter. */
async function contextMenu(rowText, item) {
  await memoryRow(rowText).click({ button: 'right' });
  const entry = page.locator('.context-view .action-label', { hasText: item }).first();
  await entry.waitFor();
  await page.waitForTimeout(300);
  await entry.hover();
  await entry.click();
  await page.waitForTimeout(300);
  if (await entry.isVisible()) {
    await page.keyboard.press('Enter');
  }
}

/** Show the Letta side bar (clicking its icon while it is showing would hide it). */
async function showMemoryView() {
  const title = page.locator('.sidebar .composite.title', { hasText: 'Letta' }).first();
  if (await title.isVisible()) {
    return;
  }
  await page.locator('.activitybar [aria-label^="Letta"]').first().click();
  await title.waitFor();
}

/** The chat webview's inner document (VS Code nests it in two iframes). */
async function chatFrame() {
  return waitUntil('the chat webview', async () => {
    for (const frame of page.frames()) {
      if (await frame.locator('#input').count().catch(() => 0)) {
        return frame;
      }
    }
    return undefined;
  });
}

async function typeInEditor(keys) {
  const editor = page.locator('.editor-instance .monaco-editor .view-lines').first();
  await editor.click();
  for (const key of keys) {
    if (key.startsWith('key:')) {
      await page.keyboard.press(key.slice(4));
    } else {
      await page.keyboard.type(key);
    }
  }
}

async function tabIsClean(name) {
  await waitUntil(`${name} to be saved`, async () =>
    (await tab(name).count()) > 0 && !(await tab(name).getAttribute('class')).includes('dirty'));
}

async function mainScenario() {
  await step('extension-activated-memory-view', async () => {
    await page.goto(config.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    await page.locator('.activitybar [aria-label^="Letta"]').first().waitFor({ timeout: 90_000 });
    await showMemoryView();
    // the language server answered: the three tiers and the seeded files, with descriptions and tokens
    await memoryRow('persona.md').waitFor({ timeout: 90_000 });
    for (const text of ['System', 'External', 'Skills', 'human.md', 'notes.md', 'reference/', 'pdf/']) {
      await memoryRow(text).waitFor();
    }
    await page.locator('.pane-body .monaco-list-row', { hasText: 'Read and write PDF files' }).first().waitFor();
    await page.locator('.statusbar-item', { hasText: config.agentName }).first().waitFor();
  });

  await step('memory-document-with-diagnostic', async () => {
    await memoryRow('notes.md').click();
    await tab('notes.md').waitFor();
    await page.locator('.editor-instance .squiggly-error').first().waitFor();
    await runCommand('View: Focus Problems');
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'description-missing' }).first().waitFor();
    await page.locator('.markers-panel .monaco-list-row', { hasText: 'one line saying what this file is for' }).first().waitFor();
  });

  await step('edit-saved-as-commit', async () => {
    const before = git('rev-parse', 'HEAD');
    await tab('notes.md').click();
    await typeInEditor(['key:Control+Home', 'key:End', 'key:Enter', 'description: How the user ships releases']);
    await waitUntil('notes.md to be dirty', async () => (await tab('notes.md').getAttribute('class')).includes('dirty'));
    await page.keyboard.press('Control+S');
    await tabIsClean('notes.md');
    await waitUntil('a new commit', async () => git('rev-parse', 'HEAD') !== before);
    const shown = git('show', 'HEAD:system/notes.md');
    if (!shown.includes('description: How the user ships releases')) {
      throw new Error(`the commit does not hold the edit:\n${shown}`);
    }
    // the fix is seen: the error squiggle and the Problems entry go away
    await waitUntil('the diagnostic to clear', async () =>
      (await page.locator('.editor-instance .squiggly-error').count()) === 0);
  });

  await step('doctor-from-palette', async () => {
    await runCommand('Letta: Doctor');
    await toast('Letta doctor: 0 errors').waitFor();
    await tab('Letta Doctor').waitFor();
  });

  await step('chat-streams-in-panel', async () => {
    await clearNotifications();
    await runCommand('Letta: Chat');
    const frame = await chatFrame();
    await frame.locator('#input').fill(config.chatMessage);
    await frame.locator('#input').press('Enter');
    await frame.locator('.entry.user', { hasText: config.chatMessage }).waitFor();
    await frame.locator('.entry.tool', { hasText: 'memory' }).first().waitFor();
    await frame.locator('.memory-link', { hasText: 'system/stack.md' }).waitFor();
    await frame.locator('.entry.assistant', { hasText: config.chatReply }).waitFor();
    await waitUntil('the turn to finish', async () => !(await frame.locator('#send').isDisabled()));
    await waitUntil('the streaming cursor to go', async () =>
      (await frame.locator('.entry.assistant.streaming').count()) === 0);
  });

  await step('memory-edit-link-opens-file', async () => {
    const frame = await chatFrame();
    await frame.locator('.memory-link', { hasText: 'system/stack.md' }).click();
    await tab('stack.md').waitFor();
    await page.locator('.editor-instance .view-lines', { hasText: 'Backend in Go.' }).first().waitFor();
    await memoryRow('stack.md').waitFor(); // the Memory view refreshed on letta/memoryChanged
  });

  const conflictDialog = page.locator('.monaco-dialog-box', { hasText: 'changed in memory since you opened it' });

  /** Type into human.md, let another process commit a newer human.md, then save. */
  async function saveOverANewerCommit(typed, theirDescription, message) {
    await typeInEditor(['key:Control+End', typed]);
    const file = path.join(config.memoryDir, 'system', 'human.md');
    const theirs = fs.readFileSync(file, 'utf8').replace(/^description: .*$/m, `description: ${theirDescription}`);
    fs.writeFileSync(file, theirs);
    git('-c', 'user.name=Other Window', '-c', 'user.email=other@example.com', 'commit', '-q', '-am', message);
    await memoryRow(theirDescription).waitFor(); // letta/memoryChanged reached the extension
    await page.keyboard.press('Control+S');
    await conflictDialog.waitFor();
  }

  await step('stale-save-asks-what-to-do', async () => {
    await showMemoryView();
    await memoryRow('human.md').click();
    await tab('human.md').waitFor();
    await saveOverANewerCommit(' The user reviews on Mondays.', 'Edited elsewhere', 'edited elsewhere');
  });

  await step('overwrite-keeps-both-in-history', async () => {
    await conflictDialog.locator('.monaco-button', { hasText: 'Overwrite' }).click();
    await tabIsClean('human.md');
    await waitUntil('the overwrite commit', async () => git('log', '-1', '--format=%s') !== 'edited elsewhere');
  });

  await step('compare-shows-both-versions', async () => {
    await tab('human.md').click();
    await saveOverANewerCommit(' Prefers tabs.', 'Edited elsewhere again', 'edited elsewhere again');
    await conflictDialog.locator('.monaco-button', { hasText: 'Compare' }).click();
    await page.locator('.monaco-diff-editor').first().waitFor();
    await tab('↔ yours').waitFor();
    await page.locator('.monaco-diff-editor .view-lines', { hasText: 'Edited elsewhere again' }).first().waitFor();
    await page.locator('.monaco-diff-editor .view-lines', { hasText: 'Prefers tabs.' }).first().waitFor();
  });

  await step('save-after-compare-keeps-yours', async () => {
    await tab('human.md').click(); // the editor's tab, not the comparison's
    await page.keyboard.press('Control+S');
    await tabIsClean('human.md');
    await waitUntil('the save on top of the other commit', async () =>
      git('log', '-1', '--format=%s') === 'edit system/human.md in the editor');
  });

  await step('history-lists-commits', async () => {
    await runCommand('Letta: Memory History');
    await page.locator('.quick-input-widget', { hasText: 'History of system/human.md' }).waitFor();
    for (const message of ['edited elsewhere again', 'edit system/human.md in the editor']) {
      await page.locator('.quick-input-list .monaco-list-row', { hasText: message }).first().waitFor();
    }
  });

  await step('history-compare-with-current', async () => {
    await pickQuickItem('initialize memory'); // the first version, so the comparison shows every change since
    await page.locator('.quick-input-widget', { hasText: 'human.md at' }).waitFor();
    await pickQuickItem('Compare with the current version');
    const first = git('log', '--reverse', '--format=%h', '--abbrev=7', '--', 'system/human.md').split('\n')[0];
    await tab(`human.md (${first}) ↔ current`).waitFor();
    const diff = page.locator('.monaco-diff-editor:visible').first();
    await diff.locator('.editor.modified .view-lines', { hasText: 'Prefers tabs.' }).waitFor();
    await diff.locator('.editor.modified .line-insert').first().waitFor();
  });

  await step('rename-from-memory-view', async () => {
    await clearNotifications();
    await showMemoryView();
    // reference/stack.md, by its description (the chat made a system/stack.md too)
    await contextMenu("The project's stack and tools", 'Rename in Memory');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor();
    await input.fill('reference/toolchain.md');
    await page.keyboard.press('Enter');
    await waitUntil('the rename commit', async () =>
      git('log', '-1', '--format=%s') === 'rename reference/stack.md to reference/toolchain.md in the editor');
    await memoryRow('toolchain.md').waitFor();
  });

  await step('delete-asks-first', async () => {
    await contextMenu('toolchain.md', 'Delete from Memory');
    await page.locator('.monaco-dialog-box', { hasText: 'Delete reference/toolchain.md from memory?' }).waitFor();
  });

  await step('delete-from-memory-view', async () => {
    const dialog = page.locator('.monaco-dialog-box');
    await dialog.locator('.monaco-button', { hasText: 'Delete' }).first().click();
    await waitUntil('the delete commit', async () =>
      git('log', '-1', '--format=%s') === 'delete reference/toolchain.md in the editor');
    await waitUntil('the row to go', async () => (await memoryRow('toolchain.md').count()) === 0);
  });

}

/** letta.server.command points nowhere: the user is told what failed and what to change, and the palette
 * offers the commands that can help instead of ones that would fail with "command not found". */
async function badServerCommandScenario() {
  await step('server-that-cannot-start-is-explained', async () => {
    await page.goto(config.url);
    await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
    const error = toast('could not start its language server');
    await error.waitFor({ timeout: 90_000 });
    const text = await error.innerText();
    for (const expected of [config.command, 'letta.server.command']) {
      if (!text.includes(expected)) {
        throw new Error(`the error does not mention ${expected}: ${text}`);
      }
    }
    await error.locator('.monaco-button', { hasText: 'Open Settings' }).waitFor();
    await page.locator('.statusbar-item', { hasText: 'Letta' }).locator('.codicon-error').first().waitFor();
  });

  await step('palette-offers-restart-not-broken-commands', async () => {
    await page.keyboard.press('F1');
    await page.locator('.quick-input-widget input').fill('>Letta: ');
    const rows = page.locator('.quick-input-list .monaco-list-row');
    await rows.filter({ hasText: 'Letta: Restart Server' }).first().waitFor();
    await rows.filter({ hasText: 'Letta: Show Server Log' }).first().waitFor();
    const labels = await rows.allInnerTexts();
    if (labels.some((label) => /Letta: (Doctor|Chat|Remember)/.test(label))) {
      throw new Error(`server commands offered while the server is not running: ${labels}`);
    }
  });
}

const SCENARIOS = { main: mainScenario, 'bad-server-command': badServerCommandScenario };

const scenario = SCENARIOS[config.scenario];
await run(async () => {
  if (!scenario) {
    throw new Error(`no scenario ${config.scenario}; known: ${Object.keys(SCENARIOS)}`);
  }
  await scenario();
}, { showConsoleErrors: true });
