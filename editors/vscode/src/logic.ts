/**
 * The extension's own logic as pure functions: no `vscode` import, so the unit tests run under
 * plain node. Everything that talks to VS Code or the server lives in the other modules and calls
 * these.
 */
import * as path from 'node:path';
import type { FindHit, FindResult, OwnersResult, RepoStatus, SearchHit, StatusResult } from './protocol';

// ---------------------------------------------------------------------------- finding the server

export interface ServerSettings {
  /** `crossnav.server.path`: a crossnav executable. */
  serverPath: string;
  /** `crossnav.server.python`: an interpreter with crossnav installed. */
  python: string;
  /** `crossnav.db`, already expanded; empty for the server's default. */
  db: string;
}

export interface ServerCommand {
  command: string;
  args: string[];
  /** Which setting (or PATH) the command came from, for the log and error messages. */
  source: 'crossnav.server.path' | 'crossnav.server.python' | 'PATH';
  /** For `python`: the interpreter still has to prove it can import crossnav. */
  needsImportCheck: boolean;
}

export interface ServerNotFound {
  error: string;
}

/** What the file system looks like, injected so that resolution is testable. */
export interface FileProbe {
  isExecutable(file: string): boolean;
  exists(file: string): boolean;
}

export const INSTALL_HINT =
  'Install it with `pip install crossnav` (into a Python on PATH), or set "crossnav.server.path" to the ' +
  'crossnav executable, or "crossnav.server.python" to a Python interpreter that has crossnav installed.';

/** The command line that starts `crossnav serve`, in the documented order of precedence:
 *  `crossnav.server.path`, then `crossnav.server.python`, then `crossnav` on PATH. */
export function resolveServerCommand(
  settings: ServerSettings,
  env: { PATH?: string; PATHEXT?: string },
  probe: FileProbe,
  platform: NodeJS.Platform = process.platform,
): ServerCommand | ServerNotFound {
  const serveArgs = settings.db ? ['serve', '--db', settings.db] : ['serve'];
  const serverPath = settings.serverPath.trim();
  if (serverPath) {
    if (!probe.exists(serverPath)) {
      return { error: `"crossnav.server.path" is set to ${serverPath}, which does not exist. ${INSTALL_HINT}` };
    }
    if (!probe.isExecutable(serverPath)) {
      return { error: `"crossnav.server.path" is set to ${serverPath}, which is not executable (chmod +x it, or point the setting at the crossnav executable).` };
    }
    return { command: serverPath, args: serveArgs, source: 'crossnav.server.path', needsImportCheck: false };
  }
  const python = settings.python.trim();
  if (python) {
    const resolved = python.includes('/') || python.includes('\\') ? python : which(python, env, probe, platform);
    if (!resolved || !probe.exists(resolved)) {
      return { error: `"crossnav.server.python" is set to ${python}, which was not found. Point it at a Python interpreter (for example a virtualenv's bin/python) that has crossnav installed.` };
    }
    return { command: resolved, args: ['-m', 'crossnav.index.cli', ...serveArgs], source: 'crossnav.server.python', needsImportCheck: true };
  }
  const onPath = which('crossnav', env, probe, platform);
  if (onPath) {
    return { command: onPath, args: serveArgs, source: 'PATH', needsImportCheck: false };
  }
  return { error: `The crossnav language server was not found on PATH. ${INSTALL_HINT}` };
}

/** The first executable called `name` on PATH (with PATHEXT on Windows). */
export function which(name: string, env: { PATH?: string; PATHEXT?: string }, probe: FileProbe,
  platform: NodeJS.Platform = process.platform): string | undefined {
  const sep = platform === 'win32' ? ';' : ':';
  const exts = platform === 'win32' ? (env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';').filter(Boolean) : [''];
  const join = (dir: string, file: string) => (platform === 'win32' ? path.win32 : path.posix).join(dir, file);
  for (const dir of (env.PATH ?? '').split(sep)) {
    if (!dir) {
      continue;
    }
    for (const ext of exts) {
      const candidate = join(dir, name + ext);
      if (probe.isExecutable(candidate)) {
        return candidate;
      }
    }
  }
  return undefined;
}

/** The message shown when `python -c "import crossnav..."` fails. */
export function pythonImportError(python: string, detail: string): string {
  const last = detail.trim().split('\n').filter(Boolean).pop() ?? '';
  return `crossnav is not installed for ${python}${last ? ` (${last})` : ''}. Run \`${python} -m pip install crossnav\`, ` +
    'or point "crossnav.server.python" at an interpreter that has it, or "crossnav.server.path" at the crossnav executable.';
}

/** `~`, `${workspaceFolder}` and `${env:NAME}` in a path setting; relative paths are taken from the
 *  first workspace folder. */
export function expandPath(value: string, home: string, workspaceFolder: string | undefined,
  env: Record<string, string | undefined> = {}): string {
  let v = value.trim();
  if (!v) {
    return '';
  }
  v = v.replace(/\$\{env:([^}]+)\}/g, (_, name: string) => env[name] ?? '');
  if (workspaceFolder) {
    v = v.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
  }
  if (v === '~' || v.startsWith('~/')) {
    v = path.join(home, v.slice(1));
  }
  if (!path.isAbsolute(v) && workspaceFolder && !v.includes('${')) {
    v = path.join(workspaceFolder, v);
  }
  return v;
}

// ---------------------------------------------------------------------------- languages and crossOnly

/** The VS Code language ids the server answers for (the client's documentSelector; package.json's
 *  activationEvents list the same ids). */
export const LANGUAGE_IDS = [
  'python', 'go', 'typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'java', 'kotlin', 'rust',
  'csharp', 'ruby', 'c', 'cpp',
];

/** Extensions that already answer definition/references for Python in the file's own repo. */
export const PYTHON_LANGUAGE_SERVERS = [
  'ms-python.vscode-pylance',
  'ms-python.python',
  'ms-pyright.pyright',
  'detachhead.basedpyright',
];

/** Per language (the server's names, `files.language`): the extensions whose language server
 *  already answers definition/references inside the file's own repo, or `builtin` when VS Code's own
 *  does (its TypeScript server answers TypeScript and JavaScript files). */
export const OWN_LANGUAGE_SERVERS: readonly { languages: string[]; extensions: string[] | 'builtin' }[] = [
  { languages: ['python'], extensions: PYTHON_LANGUAGE_SERVERS },
  { languages: ['go'], extensions: ['golang.go'] },
  { languages: ['typescript', 'javascript'], extensions: 'builtin' },
  { languages: ['java'], extensions: ['redhat.java', 'vscjava.vscode-java-pack'] },
  { languages: ['kotlin'], extensions: ['fwcd.kotlin'] },
  { languages: ['rust'], extensions: ['rust-lang.rust-analyzer'] },
  { languages: ['csharp'], extensions: ['ms-dotnettools.csharp', 'ms-dotnettools.csdevkit'] },
  { languages: ['ruby'], extensions: ['Shopify.ruby-lsp'] },
  { languages: ['c', 'cpp'], extensions: ['ms-vscode.cpptools', 'llvm-vs-code-extensions.vscode-clangd'] },
];

/** The `crossOnly` sent to the server: the setting when it is a boolean; for `auto`, the languages
 *  whose own language server is present (so that its in-repo results are not listed twice), and for
 *  files of every other language all locations. */
export function effectiveCrossOnly(setting: unknown, installed: (id: string) => boolean): boolean | string[] {
  if (typeof setting === 'boolean') {
    return setting;
  }
  return OWN_LANGUAGE_SERVERS
    .filter((entry) => entry.extensions === 'builtin' || entry.extensions.some(installed))
    .flatMap((entry) => entry.languages);
}

// ---------------------------------------------------------------------------- ages and status

/** Compact age: "just now", "5 min", "2 h", "3 d", "6 w". */
export function formatAge(fromIso: string | null | undefined, now: Date): string | undefined {
  if (!fromIso) {
    return undefined;
  }
  const t = Date.parse(fromIso);
  if (Number.isNaN(t)) {
    return undefined;
  }
  const secs = Math.max(0, (now.getTime() - t) / 1000);
  if (secs < 60) {
    return 'just now';
  }
  const units: [string, number][] = [['w', 7 * 86400], ['d', 86400], ['h', 3600], ['min', 60]];
  for (const [unit, n] of units) {
    if (secs >= n && (unit !== 'w' || secs >= 14 * 86400)) {
      return `${Math.floor(secs / n)} ${unit}`;
    }
  }
  return 'just now';
}

export interface StatusView {
  text: string;
  tooltip: string;
  level: 'ok' | 'warning' | 'error';
  staleRepos: string[];
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** The oldest `indexedAt` among the repos: the index is as fresh as its stalest repo. */
export function oldestIndexedAt(repos: RepoStatus[]): string | undefined {
  let oldest: string | undefined;
  let oldestT = Infinity;
  for (const r of repos) {
    const t = r.indexedAt ? Date.parse(r.indexedAt) : NaN;
    if (!Number.isNaN(t) && t < oldestT) {
      oldestT = t;
      oldest = r.indexedAt ?? undefined;
    }
  }
  return oldest;
}

/** The status-bar item for a `crossnav.status` answer: "crossnav: 5 repos · 2 h", a warning icon
 *  when a repo's checkout moved past the indexed commit, an error when there is no usable index. */
export function statusView(status: StatusResult, now: Date): StatusView {
  if (status.error || !status.repos) {
    return {
      text: '$(error) crossnav: no index',
      tooltip: `crossnav: ${status.error ?? 'no index'}\nIndex: ${status.db}\nBuild it with \`crossnav index --db ${status.db} REPO...\`, or set "crossnav.db".`,
      level: 'error',
      staleRepos: [],
    };
  }
  const repos = status.repos;
  if (repos.length === 0) {
    return {
      text: '$(warning) crossnav: 0 repos',
      tooltip: `crossnav: the index ${status.db} has no repositories yet. Run \`crossnav index --db ${status.db} REPO...\`.`,
      level: 'warning',
      staleRepos: [],
    };
  }
  const age = formatAge(oldestIndexedAt(repos), now);
  const stale = repos.filter((r) => r.stale).map((r) => r.name);
  const icon = stale.length ? '$(warning)' : '$(database)';
  const text = `${icon} crossnav: ${plural(repos.length, 'repo')}${age ? ` · ${age}` : ''}`;
  const lines = [`crossnav index: ${status.db}`];
  if (status.dbModified) {
    lines.push(`Written ${formatAge(status.dbModified, now) ?? status.dbModified}${formatAge(status.dbModified, now) === 'just now' ? '' : ' ago'}`);
  }
  if (stale.length) {
    lines.push(`${plural(stale.length, 'repo')} checked out at a different commit than indexed: ${stale.join(', ')}.`,
      'Run "crossnav: Reindex repositories".');
  }
  lines.push('');
  for (const r of repos) {
    lines.push(repoLine(r, now));
  }
  return { text, tooltip: lines.join('\n'), level: stale.length ? 'warning' : 'ok', staleRepos: stale };
}

/** One repo in tooltips and the status picker: "payments @ 1a2b3c4d5e, indexed 2 h ago". */
export function repoLine(r: RepoStatus, now: Date): string {
  const age = formatAge(r.indexedAt, now);
  const when = age ? (age === 'just now' ? 'indexed just now' : `indexed ${age} ago`) : 'never indexed';
  const head = r.head ? r.head.slice(0, 10) : 'no commit';
  const stale = r.stale ? ` (checked out: ${(r.currentHead ?? '?').slice(0, 10)})` : '';
  return `${r.stale ? '⚠ ' : ''}${r.name} @ ${head}, ${when}${stale}`;
}

// ---------------------------------------------------------------------------- search

export const KIND_ICONS: Record<string, string> = {
  class: 'symbol-class',
  function: 'symbol-function',
  method: 'symbol-method',
  property: 'symbol-property',
  attribute: 'symbol-field',
  variable: 'symbol-variable',
  constant: 'symbol-constant',
  module: 'symbol-module',
};

export interface SearchItem {
  label: string;
  description: string;
  detail: string;
  uri: string;
  line: number;
  character: number;
  endLine: number;
  endCharacter: number;
}

/** A `crossnav.search` hit as a QuickPick item: the name with its kind icon, the qualified name,
 *  and where it lives (repo, path:line, how often it is used). */
export function searchItem(hit: SearchHit): SearchItem {
  const icon = KIND_ICONS[hit.kind ?? ''] ?? 'symbol-misc';
  const start = hit.range?.start ?? { line: 0, character: 0 };
  const end = hit.range?.end ?? start;
  const uses = typeof hit.uses === 'number' && hit.uses > 0 ? ` · ${plural(hit.uses, 'use')}` : '';
  return {
    label: `$(${icon}) ${hit.name}`,
    description: hit.qualname,
    detail: `${hit.repo} · ${hit.path}:${start.line + 1}${uses}`,
    uri: hit.uri,
    line: start.line,
    character: start.character,
    endLine: end.line,
    endCharacter: end.character,
  };
}

// ---------------------------------------------------------------------------- code search

/** Text shown in a QuickPick label, description or detail, where `$(name)` would render as an icon:
 *  `\$(name)` shows it literally (VS Code's `escapeIcons`). */
export function escapeIcons(text: string): string {
  return text.replace(/(\\)?\$\((.*?)\)/g, (match: string, escaped: string | undefined) => (escaped ? match : `\\${match}`));
}

/** The matching line for a result row: tabs as spaces, leading indentation dropped, and when the
 *  match starts far to the right, the start cut to `…` so the match stays visible. */
export function findSnippet(text: string, start: number, width = 160): string {
  const line = text.replace(/\t/g, ' ').replace(/\s+$/, '');
  const indent = line.length - line.trimStart().length;
  let from = Math.min(indent, Math.max(0, start));
  let prefix = '';
  if (start - from > width / 2) {
    from = start - 20;
    prefix = '…';
  }
  const body = line.slice(from);
  return prefix + (body.length > width ? `${body.slice(0, width - 1)}…` : body);
}

/** "@acme/finance, @acme/backend" (at most three, then "+N"), or "no owners recorded". */
export function ownersText(owners: string[] | null | undefined, owner?: string | null): string {
  const all = owners?.length ? owners : owner ? [owner] : [];
  if (!all.length) {
    return 'no owners recorded';
  }
  return all.slice(0, 3).join(', ') + (all.length > 3 ? ` +${all.length - 3}` : '');
}

/** "column 11: invalid regular expression: missing )" (the column is 1-based), or the bare message. */
export function findErrorText(error: string, column?: number | null): string {
  return typeof column === 'number' && column > 0 ? `column ${column}: ${error}` : error;
}

/** The query with `‸` where the error is (1-based column), for the error row's detail. */
export function markColumn(query: string, column?: number | null): string {
  if (typeof column !== 'number' || column < 1) {
    return query;
  }
  const at = Math.min(column - 1, query.length);
  return `${query.slice(0, at)}‸${query.slice(at)}`;
}

export interface FindHitRow {
  type: 'hit';
  /** `path:line` (1-based), with the kind icon for `type:symbol` results. */
  label: string;
  /** The matching line. */
  description: string;
  /** The owners, and for definitions the qualified name and uses. */
  detail: string;
  repo: string;
  uri: string;
  line: number;
  character: number;
  endLine: number;
  endCharacter: number;
}

export type FindRow =
  | FindHitRow
  | { type: 'separator'; label: string }
  /** `more` was set: the server stopped at the limit. */
  | { type: 'more'; label: string; detail: string }
  /** No results, or a bad query. Not openable. */
  | { type: 'message'; label: string; detail?: string };

export interface FindView {
  rows: FindRow[];
  /** The QuickPick title: the counts, or the error. */
  title: string;
  /** Set for a bad query (with its column) or an unusable index. */
  error?: string;
}

export const FIND_TITLE = 'crossnav: Search code across repositories';

export const FIND_PLACEHOLDER =
  'Code search: terms, "phrases", /regex/, repo:, -repo:, file:, lang:, owner:, type:symbol, kind:, count:N, AND/OR/NOT, ( )';

/** One `crossnav.find` result as a QuickPick row. */
export function findHitRow(hit: FindHit): FindHitRow {
  const start = hit.range?.start ?? { line: hit.line ?? 0, character: 0 };
  const end = hit.range?.end ?? start;
  const icon = hit.kind ? `$(${KIND_ICONS[hit.kind] ?? 'symbol-misc'}) ` : '';
  const symbol = hit.kind && hit.qualname ? ` · ${escapeIcons(hit.qualname)}` : '';
  const uses = hit.kind && typeof hit.uses === 'number' && hit.uses > 0 ? ` · ${plural(hit.uses, 'use')}` : '';
  return {
    type: 'hit',
    label: `${icon}${escapeIcons(hit.path)}:${start.line + 1}`,
    description: escapeIcons(findSnippet(hit.text ?? '', start.character)),
    detail: `$(person) ${escapeIcons(ownersText(hit.owners, hit.owner))}${symbol}${uses}`,
    repo: hit.repo,
    uri: hit.uri,
    line: start.line,
    character: start.character,
    endLine: end.line,
    endCharacter: end.character,
  };
}

/** A `crossnav.find` answer as QuickPick rows: results grouped by repo under a separator (repos in
 *  the order of their first result, results in the server's order within a repo), then a "more
 *  results" row when the server stopped at the limit; a bad query becomes an error row and title. */
export function findView(answer: FindResult | null | undefined, query: string): FindView {
  if (answer?.error) {
    const error = findErrorText(answer.error, answer.column);
    return {
      rows: [{ type: 'message', label: `$(error) ${escapeIcons(error)}`, detail: escapeIcons(markColumn(query, answer.column)) }],
      title: `${FIND_TITLE} — ${error}`,
      error,
    };
  }
  const results = answer?.results ?? [];
  if (!results.length) {
    return { rows: [{ type: 'message', label: `No code matches ${escapeIcons(JSON.stringify(query.trim()))}` }], title: FIND_TITLE };
  }
  const groups = new Map<string, FindHitRow[]>();
  for (const hit of results) {
    const rows = groups.get(hit.repo) ?? [];
    rows.push(findHitRow(hit));
    groups.set(hit.repo, rows);
  }
  const rows: FindRow[] = [];
  for (const [repo, hits] of groups) {
    rows.push({ type: 'separator', label: `${repo} · ${plural(hits.length, 'result')}` }, ...hits);
  }
  const more = Boolean(answer?.more);
  if (more) {
    rows.push({ type: 'separator', label: '' }, {
      type: 'more',
      label: '$(ellipsis) more results — narrow the query',
      detail: `Showing the first ${results.length}: add terms, repo:, file:, lang: or owner:, or raise the limit with count:N`,
    });
  }
  const count = `${more ? 'first ' : ''}${plural(results.length, 'result')} in ${plural(groups.size, 'repo')}`;
  return { rows, title: `${FIND_TITLE} — ${count}` };
}

// ---------------------------------------------------------------------------- owners

export interface OwnersLine {
  /** What the line is about: the symbol or the file. */
  label: string;
  /** The owners, comma-separated, or "no owners recorded". */
  owners: string;
  /** "from .github/CODEOWNERS:4 (rule `/src/payments/retry/policy.py`)" */
  rule: string;
  /** Repo-relative file that decided, and its 1-based line, to open. */
  source?: { repo: string; path: string; line?: number };
  contributing?: string;
}

function ruleText(source: string | null | undefined, line: number | null | undefined, rule: string | null | undefined): string {
  if (!source) {
    return 'no ownership file matches';
  }
  return `from ${source}${line ? `:${line}` : ''}${rule ? ` (rule \`${rule}\`)` : ''}`;
}

/** The owners of the symbol under the cursor (when there is one) and of the current file. */
export function ownersLines(result: OwnersResult): OwnersLine[] {
  const out: OwnersLine[] = [];
  const s = result.symbol;
  if (s && (s.repo !== result.repo || s.path !== result.path)) {
    out.push({
      label: `${s.qualname} — ${s.repo}/${s.path}:${s.line + 1}`,
      owners: s.owners?.length ? s.owners.join(', ') : 'no owners recorded',
      rule: ruleText(s.source, s.sourceLine, s.rule),
      source: s.source ? { repo: s.repo, path: s.source, line: s.sourceLine ?? undefined } : undefined,
      contributing: s.contributing ?? undefined,
    });
  }
  out.push({
    label: `${s && s.repo === result.repo && s.path === result.path ? `${s.qualname} — ` : ''}${result.repo}/${result.path}`,
    owners: result.owners?.length ? result.owners.join(', ') : 'no owners recorded',
    rule: ruleText(result.source, result.sourceLine, result.rule),
    source: result.source ? { repo: result.repo, path: result.source, line: result.sourceLine ?? undefined } : undefined,
    contributing: result.contributing ?? undefined,
  });
  return out;
}

/** One line for notifications: "payments.retry.policy.Backoff: @alice, @acme/reliability (from .github/CODEOWNERS:4)". */
export function ownersMessage(result: OwnersResult): string {
  const first = ownersLines(result)[0];
  return `${first.label}: ${first.owners} — ${first.rule}`;
}
