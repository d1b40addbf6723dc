/**
 * Markdown reports (doctor, init, dream, defrag) shown as read-only documents with the rendered
 * preview beside them. They live in memory under the `letta-report:` scheme, so closing one never
 * asks to save an untitled file.
 */

import * as vscode from 'vscode';

export const REPORT_SCHEME = 'letta-report';

class ReportStore implements vscode.TextDocumentContentProvider {
  private readonly reports = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;

  set(uri: vscode.Uri, markdown: string): void {
    this.reports.set(uri.toString(), markdown);
    this.changed.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.reports.get(uri.toString()) ?? '';
  }
}

const store = new ReportStore();

export function registerReports(): vscode.Disposable {
  return vscode.workspace.registerTextDocumentContentProvider(REPORT_SCHEME, store);
}

/** Show `markdown` as the report called `name` (one document per name, replaced on each run). */
export async function showReport(name: string, markdown: string): Promise<void> {
  const uri = vscode.Uri.from({ scheme: REPORT_SCHEME, path: `/${name}.md` });
  store.set(uri, markdown);
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(document, 'markdown');
  try {
    // locked: a dynamic preview would follow the next markdown editor and lose the report
    await vscode.commands.executeCommand('markdown.showPreview', uri, [uri], { locked: true });
  } catch {
    await vscode.window.showTextDocument(document, { preview: true });
  }
}
