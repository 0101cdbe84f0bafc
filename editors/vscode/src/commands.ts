/** The extension's commands: search, owners, open in code host, reindex, status. Each one calls a
 *  server command (`crossnav.search`, `crossnav.owners`, ...) and presents the answer. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import {
  FIND_PLACEHOLDER,
  FIND_TITLE,
  findView,
  formatAge,
  ownersLines,
  plural,
  repoLine,
  searchItem,
  type FindHitRow,
  type FindRow,
  type SearchItem,
} from './logic';
import {
  COMMANDS,
  type FindResult,
  type OwnersResult,
  type ReindexResult,
  type SearchHit,
  type StatusResult,
  type WebUrlResult,
} from './protocol';
import { config, type ServerHandle } from './server';
import type { StatusItem } from './status';

type PickItem = vscode.QuickPickItem & { hit?: SearchItem };
type FindItem = vscode.QuickPickItem & { hit?: FindHitRow };

/** How long typing must pause before `crossnav.find` runs. */
const FIND_DEBOUNCE_MS = 200;

/** A `crossnav.find` row as a QuickPick item. `alwaysShow`: the server already matched, the picker's
 *  own label filter must not hide its answers. */
function findItem(row: FindRow): FindItem {
  switch (row.type) {
    case 'separator':
      return { label: row.label, kind: vscode.QuickPickItemKind.Separator };
    case 'hit':
      return { label: row.label, description: row.description, detail: row.detail, alwaysShow: true, hit: row };
    default:
      return { label: row.label, detail: row.detail, alwaysShow: true };
  }
}

export class Commands {
  constructor(private readonly server: ServerHandle, private readonly status: StatusItem,
    private readonly output: vscode.OutputChannel) {}

  register(): vscode.Disposable[] {
    const r = (id: string, fn: (...args: never[]) => unknown) => vscode.commands.registerCommand(id, async (...args: never[]) => {
      try {
        return await fn(...args);
      } catch (e) {
        this.output.appendLine(`[crossnav] ${id}: ${String(e)}`);
        void vscode.window.showErrorMessage(`crossnav: ${e instanceof Error ? e.message : String(e)}`);
        return undefined;
      }
    });
    return [
      r('crossnav.searchSymbols', (query?: string) => this.searchSymbols(query)),
      r('crossnav.searchCode', (query?: string) => this.searchCode(query)),
      r('crossnav.showOwners', () => this.showOwners()),
      r('crossnav.openInCodeHost', () => this.openInCodeHost(false)),
      r('crossnav.copyCodeHostLink', () => this.openInCodeHost(true)),
      r('crossnav.reindex', (arg?: { repos?: string[] }) => this.reindex(arg?.repos)),
      r('crossnav.showStatus', () => this.showStatus()),
      r('crossnav.showOutput', () => this.output.show()),
    ];
  }

  /** QuickPick with results from `crossnav.search` as the user types; accepting opens the symbol. */
  async searchSymbols(initial?: string): Promise<void> {
    const pick = vscode.window.createQuickPick<PickItem>();
    pick.title = 'crossnav: Search symbols across repositories';
    pick.placeholder = 'Symbol name (exact, prefix, substring or fuzzy: "PMgr" finds PoolManager)';
    pick.matchOnDescription = true;
    pick.matchOnDetail = true;
    const limit = config().get<number>('maxSymbols', 100);
    let generation = 0;
    let timer: NodeJS.Timeout | undefined;
    let cancel: vscode.CancellationTokenSource | undefined;

    const run = async (query: string) => {
      const mine = ++generation;
      cancel?.cancel();
      cancel = new vscode.CancellationTokenSource();
      if (!query.trim()) {
        pick.items = [];
        pick.busy = false;
        return;
      }
      pick.busy = true;
      try {
        const hits = await this.server.command<SearchHit[] | null>(COMMANDS.search, { query, limit }, cancel.token);
        if (mine !== generation) {
          return; // a newer query is under way
        }
        // alwaysShow: the server already ranked and matched (fuzzy included); do not let the
        // QuickPick's own label filter hide its answers.
        pick.items = (hits ?? []).map((h) => {
          const item = searchItem(h);
          return { label: item.label, description: item.description, detail: item.detail, alwaysShow: true, hit: item };
        });
        if (!pick.items.length) {
          pick.items = [{ label: `No symbol matches "${query}"`, alwaysShow: true }];
        }
      } catch (e) {
        if (mine === generation) {
          pick.items = [{ label: `$(error) ${e instanceof Error ? e.message : String(e)}`, alwaysShow: true }];
        }
      } finally {
        if (mine === generation) {
          pick.busy = false;
        }
      }
    };
    pick.onDidChangeValue((value) => {
      if (timer) {
        clearTimeout(timer);
      }
      timer = setTimeout(() => void run(value), 120);
    });
    pick.onDidAccept(async () => {
      const hit = pick.selectedItems[0]?.hit;
      if (!hit) {
        return;
      }
      pick.hide();
      await openAt(hit.uri, hit.line, hit.character, hit.endLine, hit.endCharacter);
    });
    pick.onDidHide(() => {
      cancel?.cancel();
      pick.dispose();
    });
    pick.show();
    if (initial) {
      pick.value = initial;
      await run(initial);
    }
  }

  /** Code search: a QuickPick that runs `crossnav.find` as the user types (debounced, stale requests
   *  cancelled), results grouped by repo; a bad query shows its error and column in the title and
   *  as the only row, without closing; accepting a result opens the file at the match. */
  async searchCode(initial?: string): Promise<void> {
    const pick = vscode.window.createQuickPick<FindItem>();
    pick.title = FIND_TITLE;
    pick.placeholder = FIND_PLACEHOLDER;
    // Keep the server's order and the repo separators: with a value typed, the picker otherwise
    // re-sorts by label match and drops separators. `sortByLabel` is a proposed API
    // (quickPickSortByLabel) whose setter the extension host honours; elsewhere it is a no-op.
    (pick as vscode.QuickPick<FindItem> & { sortByLabel?: boolean }).sortByLabel = false;
    const limit = config().get<number>('maxSymbols', 100);
    let generation = 0;
    let timer: NodeJS.Timeout | undefined;
    let cancel: vscode.CancellationTokenSource | undefined;

    const run = async (query: string) => {
      const mine = ++generation;
      cancel?.cancel();
      cancel = new vscode.CancellationTokenSource();
      if (!query.trim()) {
        pick.items = [];
        pick.title = FIND_TITLE;
        pick.busy = false;
        return;
      }
      pick.busy = true;
      try {
        const answer = await this.server.command<FindResult | null>(COMMANDS.find, { query, limit }, cancel.token);
        if (mine !== generation) {
          return; // a newer query is under way
        }
        const view = findView(answer, query);
        pick.title = view.title;
        pick.items = view.rows.map(findItem);
      } catch (e) {
        if (mine === generation) {
          pick.title = FIND_TITLE;
          pick.items = [{ label: `$(error) ${e instanceof Error ? e.message : String(e)}`, alwaysShow: true }];
        }
      } finally {
        if (mine === generation) {
          pick.busy = false;
        }
      }
    };
    pick.onDidChangeValue((value) => {
      if (timer) {
        clearTimeout(timer);
      }
      timer = setTimeout(() => void run(value), FIND_DEBOUNCE_MS);
    });
    pick.onDidAccept(async () => {
      const hit = pick.selectedItems[0]?.hit;
      if (!hit) {
        return; // the error, "no matches" and "more results" rows keep the picker open
      }
      pick.hide();
      await openAt(hit.uri, hit.line, hit.character, hit.endLine, hit.endCharacter);
    });
    pick.onDidHide(() => {
      if (timer) {
        clearTimeout(timer);
      }
      generation += 1;
      cancel?.cancel();
      pick.dispose();
    });
    pick.show();
    if (initial) {
      pick.value = initial;
      await run(initial);
    }
  }

  /** Owners of the symbol under the cursor and of the current file: who, which rule decided
   *  (file:line), and the contribution guide. */
  async showOwners(): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('crossnav: open a file to see its owners.');
      return;
    }
    const pos = editor.selection.active;
    const result = await this.server.command<OwnersResult | null>(COMMANDS.owners,
      { uri: editor.document.uri.toString(), line: pos.line, character: pos.character });
    if (!result) {
      void vscode.window.showInformationMessage(`crossnav: ${path.basename(editor.document.uri.fsPath)} is not in a repository of the index.`);
      return;
    }
    const roots = await this.repoRoots();
    type OwnerItem = vscode.QuickPickItem & { action?: () => Promise<unknown> };
    const items: OwnerItem[] = [];
    const guides = new Map<string, string>();
    for (const line of ownersLines(result)) {
      items.push({ label: line.label, kind: vscode.QuickPickItemKind.Separator });
      const src = line.source;
      const root = src ? roots.get(src.repo) : undefined;
      items.push({
        label: `$(person) ${line.owners}`,
        detail: line.rule,
        action: src && root ? () => openAt(vscode.Uri.file(path.join(root, src.path)).toString(), Math.max(0, (src.line ?? 1) - 1), 0) : undefined,
      });
      if (line.contributing) {
        guides.set(line.contributing, line.label.split(' — ').pop() ?? line.label);
      }
    }
    const buttons: OwnerItem[] = [...guides].map(([url, what]) => ({
      label: '$(book) Open the contribution guide',
      description: what,
      detail: url,
      action: () => Promise.resolve(vscode.env.openExternal(vscode.Uri.parse(url, true))),
    }));
    if (buttons.length) {
      items.push({ label: 'Contribute', kind: vscode.QuickPickItemKind.Separator }, ...buttons);
    }
    const choice = await vscode.window.showQuickPick(items, {
      title: 'crossnav: Owners (select an owner line to open the rule, or the contribution guide)',
      matchOnDetail: true,
    });
    await choice?.action?.();
  }

  /** `crossnav.webUrl` at the cursor line, opened in the browser (or copied). */
  async openInCodeHost(copy: boolean): Promise<void> {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      return;
    }
    const line = editor.selection.active.line;
    const result = await this.server.command<WebUrlResult | null>(COMMANDS.webUrl,
      { uri: editor.document.uri.toString(), line });
    if (!result?.url) {
      void vscode.window.showInformationMessage(result
        ? `crossnav: repository ${result.repo} has no known code host remote (git remote "origin").`
        : 'crossnav: this file is not in a repository of the index.');
      return;
    }
    if (copy) {
      await vscode.env.clipboard.writeText(result.url);
      void vscode.window.showInformationMessage(`crossnav: copied ${result.url}`);
      return;
    }
    const opened = await vscode.env.openExternal(vscode.Uri.parse(result.url, true));
    if (!opened) {
      const b = await vscode.window.showInformationMessage(`crossnav: ${result.url}`, 'Copy Link');
      if (b) {
        await vscode.env.clipboard.writeText(result.url);
      }
    }
  }

  /** `crossnav.reindex` with a progress notification; the server also reports per-repo progress. */
  async reindex(repos?: string[]): Promise<ReindexResult | undefined> {
    const what = repos?.length ? repos.join(', ') : 'all indexed repositories';
    const result = await vscode.window.withProgress({
      location: vscode.ProgressLocation.Notification,
      title: `crossnav: reindexing ${what}`,
      cancellable: false,
    }, () => this.server.command<ReindexResult>(COMMANDS.reindex, repos?.length ? { repos } : {}));
    await this.status.refresh();
    if (result?.ok) {
      void vscode.window.showInformationMessage(`crossnav: reindexed ${plural(result.repos ?? 0, 'repo')}${result.summary ? ` — ${result.summary}` : ''}`);
    } else {
      const detail = result?.error ?? result?.errors?.join('; ') ?? `exit code ${result?.exitCode}`;
      void vscode.window.showErrorMessage(`crossnav: reindexing failed: ${detail}`, 'Show Output')
        .then((b) => b && this.output.show());
    }
    return result;
  }

  /** The index and its repos; picking a repo reindexes it. */
  async showStatus(): Promise<void> {
    const status = (await this.status.refresh()) ?? this.status.last;
    if (!status) {
      void vscode.window.showWarningMessage('crossnav: the language server is not running.', 'Show Output')
        .then((b) => b && this.output.show());
      return;
    }
    if (status.error) {
      void vscode.window.showErrorMessage(`crossnav: ${status.error} (index ${status.db})`, 'Open Settings')
        .then((b) => b && vscode.commands.executeCommand('workbench.action.openSettings', 'crossnav.db'));
      return;
    }
    const now = new Date();
    type Item = vscode.QuickPickItem & { repos?: string[] };
    const stale = status.repos.filter((r) => r.stale).map((r) => r.name);
    const items: Item[] = [
      { label: `$(sync) Reindex all ${plural(status.repos.length, 'repository')}`, repos: [] },
      ...(stale.length ? [{ label: `$(warning) Reindex the ${plural(stale.length, 'changed repository')}`, description: stale.join(', '), repos: stale }] : []),
      { label: `Index ${status.db}`, kind: vscode.QuickPickItemKind.Separator },
      ...status.repos.map((r) => ({
        label: `${r.stale ? '$(warning)' : '$(repo)'} ${r.name}`,
        description: repoLine(r, now).replace(/^⚠ /, '').slice(r.name.length + 1),
        detail: r.root,
        repos: [r.name],
      })),
    ];
    const age = formatAge(status.dbModified, now);
    const choice = await vscode.window.showQuickPick(items, {
      title: `crossnav: ${plural(status.repos.length, 'repo')} indexed${age ? `, written ${age === 'just now' ? age : `${age} ago`}` : ''} — pick to reindex`,
      matchOnDescription: true,
    });
    if (choice?.repos) {
      await this.reindex(choice.repos.length ? choice.repos : undefined);
    }
  }

  private async repoRoots(): Promise<Map<string, string>> {
    let status = this.status.last;
    if (!status) {
      status = await this.server.command<StatusResult>(COMMANDS.status, {}).catch(() => undefined);
    }
    return new Map((status?.repos ?? []).map((r) => [r.name, r.root]));
  }
}

export async function openAt(uri: string, line: number, character: number, endLine = line, endCharacter = character): Promise<void> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri, true));
  await vscode.window.showTextDocument(doc, { selection: new vscode.Range(line, character, endLine, endCharacter) });
}
