import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import {
  effectiveCrossOnly,
  escapeIcons,
  expandPath,
  FIND_TITLE,
  findErrorText,
  findHitRow,
  findSnippet,
  findView,
  formatAge,
  INSTALL_HINT,
  LANGUAGE_IDS,
  markColumn,
  oldestIndexedAt,
  ownersLines,
  ownersMessage,
  ownersText,
  pythonImportError,
  repoLine,
  resolveServerCommand,
  searchItem,
  statusView,
  which,
  type FileProbe,
} from '../src/logic';
import type { FindHit, FindResult, OwnersResult, RepoStatus, SearchHit, StatusResult } from '../src/protocol';

/** A fake file system: `files` exist, `exec` are executable. */
function probe(files: string[], exec: string[] = files): FileProbe {
  return { exists: (f) => files.includes(f), isExecutable: (f) => exec.includes(f) };
}

const NO_SETTINGS = { serverPath: '', python: '', db: '' };

describe('resolveServerCommand', () => {
  it('prefers crossnav.server.path, passing the db on the command line', () => {
    const r = resolveServerCommand({ serverPath: '/opt/cn/bin/crossnav', python: '/usr/bin/python3', db: '/data/org.db' },
      { PATH: '/usr/bin' }, probe(['/opt/cn/bin/crossnav', '/usr/bin/python3', '/usr/bin/crossnav']), 'linux');
    assert.deepEqual(r, { command: '/opt/cn/bin/crossnav', args: ['serve', '--db', '/data/org.db'], source: 'crossnav.server.path', needsImportCheck: false });
  });

  it('reports a server path that does not exist or is not executable', () => {
    const missing = resolveServerCommand({ ...NO_SETTINGS, serverPath: '/nope/crossnav' }, {}, probe([]), 'linux');
    assert.ok('error' in missing && missing.error.includes('/nope/crossnav') && missing.error.includes('does not exist'));
    assert.ok('error' in missing && missing.error.includes('pip install crossnav'));
    const notExec = resolveServerCommand({ ...NO_SETTINGS, serverPath: '/x/crossnav' }, {}, probe(['/x/crossnav'], []), 'linux');
    assert.ok('error' in notExec && notExec.error.includes('not executable'));
  });

  it('runs the module with crossnav.server.python, and checks the import', () => {
    const r = resolveServerCommand({ ...NO_SETTINGS, python: '/venv/bin/python' }, { PATH: '/usr/bin' },
      probe(['/venv/bin/python', '/usr/bin/crossnav']), 'linux');
    assert.deepEqual(r, { command: '/venv/bin/python', args: ['-m', 'crossnav.index.cli', 'serve'], source: 'crossnav.server.python', needsImportCheck: true });
  });

  it('looks a bare interpreter name up on PATH', () => {
    const r = resolveServerCommand({ ...NO_SETTINGS, python: 'python3' }, { PATH: '/a:/usr/bin' }, probe(['/usr/bin/python3']), 'linux');
    assert.ok(!('error' in r) && r.command === '/usr/bin/python3');
    const gone = resolveServerCommand({ ...NO_SETTINGS, python: '/venv/bin/python' }, {}, probe([]), 'linux');
    assert.ok('error' in gone && gone.error.includes('"crossnav.server.python"') && gone.error.includes('/venv/bin/python'));
  });

  it('falls back to crossnav on PATH', () => {
    const r = resolveServerCommand(NO_SETTINGS, { PATH: '/home/u/.local/bin::/usr/bin' },
      probe(['/usr/bin/crossnav', '/home/u/.local/bin/crossnav'], ['/usr/bin/crossnav']), 'linux');
    assert.deepEqual(r, { command: '/usr/bin/crossnav', args: ['serve'], source: 'PATH', needsImportCheck: false });
  });

  it('says exactly what to do when nothing is found', () => {
    const r = resolveServerCommand(NO_SETTINGS, { PATH: '/usr/bin' }, probe([]), 'linux');
    assert.ok('error' in r);
    assert.ok(r.error.endsWith(INSTALL_HINT));
    assert.match(r.error, /pip install crossnav/);
    assert.match(r.error, /crossnav\.server\.path/);
    assert.match(r.error, /crossnav\.server\.python/);
  });

  it('uses PATHEXT on Windows', () => {
    assert.equal(which('crossnav', { PATH: 'C:\\py\\Scripts;C:\\bin', PATHEXT: '.COM;.EXE' }, probe(['C:\\bin\\crossnav.EXE']), 'win32'),
      'C:\\bin\\crossnav.EXE');
  });
});

describe('pythonImportError', () => {
  it('names the interpreter, the last line of the traceback and the pip command', () => {
    const msg = pythonImportError('/venv/bin/python', "Traceback (most recent call last):\n  File ...\nModuleNotFoundError: No module named 'crossnav'\n");
    assert.match(msg, /^crossnav is not installed for \/venv\/bin\/python \(ModuleNotFoundError: No module named 'crossnav'\)/);
    assert.match(msg, /`\/venv\/bin\/python -m pip install crossnav`/);
  });
});

describe('expandPath', () => {
  it('expands ~, ${workspaceFolder}, ${env:X} and relative paths', () => {
    assert.equal(expandPath('~/idx/org.db', '/home/u', '/ws'), '/home/u/idx/org.db');
    assert.equal(expandPath('${workspaceFolder}/.crossnav.db', '/home/u', '/ws'), '/ws/.crossnav.db');
    assert.equal(expandPath('${env:IDX}/org.db', '/home/u', undefined, { IDX: '/srv' }), '/srv/org.db');
    assert.equal(expandPath('index.db', '/home/u', '/ws'), '/ws/index.db');
    assert.equal(expandPath('  ', '/home/u', '/ws'), '');
    assert.equal(expandPath('/abs/x.db', '/home/u', '/ws'), '/abs/x.db');
  });
});

describe('effectiveCrossOnly', () => {
  /** The server's language names (files.language): everything auto may send. */
  const SERVER_LANGUAGES = ['python', 'go', 'typescript', 'javascript', 'java', 'kotlin', 'rust', 'csharp', 'ruby', 'c', 'cpp'];
  const only = (...ids: string[]) => (id: string) => ids.includes(id);
  const sorted = (v: boolean | string[]) => (Array.isArray(v) ? [...v].sort() : v);

  it('follows an explicit boolean', () => {
    assert.equal(effectiveCrossOnly(true, () => false), true);
    assert.equal(effectiveCrossOnly(false, () => true), false);
  });
  it('auto without other language servers: TypeScript and JavaScript only (VS Code answers them itself)', () => {
    assert.deepEqual(sorted(effectiveCrossOnly('auto', () => false)), ['javascript', 'typescript']);
    assert.deepEqual(sorted(effectiveCrossOnly('auto', only('esbenp.prettier-vscode', 'eamodio.gitlens'))), ['javascript', 'typescript']);
  });
  it('auto: each language server extension turns on its own languages', () => {
    const cases: [string, string[]][] = [
      ['ms-python.vscode-pylance', ['python']],
      ['ms-python.python', ['python']],
      ['ms-pyright.pyright', ['python']],
      ['detachhead.basedpyright', ['python']],
      ['golang.go', ['go']],
      ['rust-lang.rust-analyzer', ['rust']],
      ['redhat.java', ['java']],
      ['vscjava.vscode-java-pack', ['java']],
      ['ms-dotnettools.csharp', ['csharp']],
      ['ms-dotnettools.csdevkit', ['csharp']],
      ['ms-vscode.cpptools', ['c', 'cpp']],
      ['llvm-vs-code-extensions.vscode-clangd', ['c', 'cpp']],
      ['fwcd.kotlin', ['kotlin']],
      ['Shopify.ruby-lsp', ['ruby']],
    ];
    for (const [ext, languages] of cases) {
      assert.deepEqual(sorted(effectiveCrossOnly('auto', only(ext))), [...languages, 'javascript', 'typescript'].sort(), ext);
    }
  });
  it('auto with several installed lists each language once', () => {
    const got = effectiveCrossOnly('auto', only('ms-python.vscode-pylance', 'ms-python.python', 'golang.go',
      'ms-vscode.cpptools', 'llvm-vs-code-extensions.vscode-clangd'));
    assert.deepEqual(sorted(got), ['c', 'cpp', 'go', 'javascript', 'python', 'typescript']);
  });
  it('auto with everything installed names every server language, and nothing else', () => {
    assert.deepEqual(sorted(effectiveCrossOnly('auto', () => true)), [...SERVER_LANGUAGES].sort());
  });
  it('an unset or unexpected setting behaves as auto', () => {
    assert.deepEqual(sorted(effectiveCrossOnly(undefined, only('golang.go'))), ['go', 'javascript', 'typescript']);
    assert.deepEqual(sorted(effectiveCrossOnly('sometimes', () => false)), ['javascript', 'typescript']);
  });
});

describe('package.json', () => {
  // out/test/logic.test.js -> editors/vscode/package.json
  const manifest = JSON.parse(readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as {
    activationEvents: string[];
    keywords: string[];
    contributes: {
      menus: Record<string, { command: string; when?: string }[]>;
      configuration: { properties: Record<string, { enum?: unknown[]; default?: unknown }> };
    };
  };
  const VSCODE_IDS = ['python', 'go', 'typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'java', 'kotlin',
    'rust', 'csharp', 'ruby', 'c', 'cpp'];

  it('the client serves every supported language id', () => {
    assert.deepEqual([...LANGUAGE_IDS].sort(), [...VSCODE_IDS].sort());
  });
  it('activates on exactly the languages the client serves', () => {
    assert.deepEqual([...manifest.activationEvents].sort(), LANGUAGE_IDS.map((id) => `onLanguage:${id}`).sort());
  });
  it('offers "Show owners" in the context menu of those languages only', () => {
    const entry = manifest.contributes.menus['editor/context'].find((m) => m.command === 'crossnav.showOwners');
    const match = /^editorLangId =~ \/(.*)\/$/.exec(entry?.when ?? '');
    assert.ok(match, entry?.when);
    const re = new RegExp(match[1]);
    for (const id of LANGUAGE_IDS) {
      assert.ok(re.test(id), id);
    }
    for (const id of ['plaintext', 'markdown', 'json', 'cpp2', 'objective-c', 'shellscript']) {
      assert.ok(!re.test(id), id);
    }
  });
  it('keeps crossOnly auto by default, with true and false', () => {
    const crossOnly = manifest.contributes.configuration.properties['crossnav.crossOnly'];
    assert.deepEqual(crossOnly.enum, ['auto', true, false]);
    assert.equal(crossOnly.default, 'auto');
  });
  it('has a keyword for every language', () => {
    for (const k of ['python', 'go', 'typescript', 'javascript', 'java', 'kotlin', 'rust', 'csharp', 'ruby', 'c', 'c++']) {
      assert.ok(manifest.keywords.includes(k), k);
    }
  });
});

describe('formatAge', () => {
  const now = new Date('2024-05-10T12:00:00Z');
  it('is compact', () => {
    assert.equal(formatAge('2024-05-10T11:59:30+00:00', now), 'just now');
    assert.equal(formatAge('2024-05-10T11:55:00Z', now), '5 min');
    assert.equal(formatAge('2024-05-10T10:00:00+00:00', now), '2 h');
    assert.equal(formatAge('2024-05-10T09:59:59Z', now), '2 h');
    assert.equal(formatAge('2024-05-07T12:00:00Z', now), '3 d');
    assert.equal(formatAge('2024-04-30T12:00:00Z', now), '10 d');
    assert.equal(formatAge('2024-04-12T12:00:00Z', now), '4 w');
  });
  it('handles missing, invalid and future timestamps', () => {
    assert.equal(formatAge(null, now), undefined);
    assert.equal(formatAge('yesterday', now), undefined);
    assert.equal(formatAge('2024-05-11T00:00:00Z', now), 'just now');
  });
});

function repo(name: string, indexedAt: string | null, stale = false): RepoStatus {
  return { name, root: `/src/${name}`, head: 'a'.repeat(40), indexedAt, currentHead: stale ? 'b'.repeat(40) : 'a'.repeat(40), stale };
}

describe('statusView', () => {
  const now = new Date('2024-05-10T12:00:00Z');
  const fresh = '2024-05-10T11:00:00+00:00';
  it('shows the repo count and the age of the oldest repo', () => {
    const status: StatusResult = { db: '/d/org.db', dbModified: fresh, repos: [repo('a', fresh), repo('b', '2024-05-10T10:00:00+00:00'), repo('c', null)] };
    assert.equal(oldestIndexedAt(status.repos), '2024-05-10T10:00:00+00:00');
    const v = statusView(status, now);
    assert.equal(v.text, '$(database) crossnav: 3 repos · 2 h');
    assert.equal(v.level, 'ok');
    assert.match(v.tooltip, /crossnav index: \/d\/org\.db/);
    assert.match(v.tooltip, /a @ aaaaaaaaaa, indexed 1 h ago/);
    assert.match(v.tooltip, /c @ aaaaaaaaaa, never indexed/);
  });
  it('warns about repos whose checkout moved past the indexed commit', () => {
    const v = statusView({ db: '/d', repos: [repo('ledger', fresh), repo('payments', fresh, true)] }, now);
    assert.equal(v.text, '$(warning) crossnav: 2 repos · 1 h');
    assert.equal(v.level, 'warning');
    assert.deepEqual(v.staleRepos, ['payments']);
    assert.match(v.tooltip, /1 repo checked out at a different commit than indexed: payments\./);
    assert.match(v.tooltip, /⚠ payments @ aaaaaaaaaa, indexed 1 h ago \(checked out: bbbbbbbbbb\)/);
  });
  it('singular, empty and broken indexes', () => {
    assert.equal(statusView({ db: '/d', repos: [repo('a', fresh)] }, now).text, '$(database) crossnav: 1 repo · 1 h');
    assert.equal(statusView({ db: '/d', repos: [] }, now).text, '$(warning) crossnav: 0 repos');
    const broken = statusView({ db: '/d/x.db', error: 'index /d/x.db does not exist', repos: [] }, now);
    assert.equal(broken.text, '$(error) crossnav: no index');
    assert.equal(broken.level, 'error');
    assert.match(broken.tooltip, /does not exist/);
  });
  it('repoLine for a repo indexed just now', () => {
    assert.equal(repoLine(repo('x', '2024-05-10T11:59:59Z'), now), 'x @ aaaaaaaaaa, indexed just now');
  });
});

describe('searchItem', () => {
  const hit: SearchHit = {
    name: 'Backoff', qualname: 'payments.retry.policy.Backoff', kind: 'class', repo: 'payments',
    path: 'src/payments/retry/policy.py', uses: 3, uri: 'file:///src/payments/src/payments/retry/policy.py',
    range: { start: { line: 5, character: 6 }, end: { line: 5, character: 13 } },
  };
  it('shows name with kind icon, qualname, repo and path:line', () => {
    assert.deepEqual(searchItem(hit), {
      label: '$(symbol-class) Backoff',
      description: 'payments.retry.policy.Backoff',
      detail: 'payments · src/payments/retry/policy.py:6 · 3 uses',
      uri: hit.uri, line: 5, character: 6, endLine: 5, endCharacter: 13,
    });
  });
  it('unknown kinds and unused symbols', () => {
    const item = searchItem({ ...hit, kind: 'weird', uses: 0 });
    assert.equal(item.label, '$(symbol-misc) Backoff');
    assert.equal(item.detail, 'payments · src/payments/retry/policy.py:6');
    assert.equal(searchItem({ ...hit, kind: 'function', uses: 1 }).detail.endsWith('· 1 use'), true);
  });
});

describe('ownersLines', () => {
  const result: OwnersResult = {
    repo: 'ledger', path: 'ledger/core.py', owners: ['@acme/ledger-team'], source: '.gitlab/CODEOWNERS', sourceLine: 5,
    rule: '/ledger/', contributing: 'https://gitlab.example.com/acme/finance/ledger/-/blob/x/docs/CONTRIBUTING.md',
    symbol: {
      qualname: 'payments.retry.policy.Backoff', repo: 'payments', path: 'src/payments/retry/policy.py', line: 5,
      owners: ['@alice', '@acme/reliability'], source: '.github/CODEOWNERS', sourceLine: 4, rule: '/src/payments/retry/policy.py',
      contributing: 'https://github.com/acme/payments/blob/x/CONTRIBUTING.md',
    },
  };
  it('lists the symbol first, then the file, each with the deciding rule', () => {
    const lines = ownersLines(result);
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[0], {
      label: 'payments.retry.policy.Backoff — payments/src/payments/retry/policy.py:6',
      owners: '@alice, @acme/reliability',
      rule: 'from .github/CODEOWNERS:4 (rule `/src/payments/retry/policy.py`)',
      source: { repo: 'payments', path: '.github/CODEOWNERS', line: 4 },
      contributing: 'https://github.com/acme/payments/blob/x/CONTRIBUTING.md',
    });
    assert.equal(lines[1].label, 'ledger/ledger/core.py');
    assert.equal(lines[1].rule, 'from .gitlab/CODEOWNERS:5 (rule `/ledger/`)');
    assert.equal(ownersMessage(result),
      'payments.retry.policy.Backoff — payments/src/payments/retry/policy.py:6: @alice, @acme/reliability — from .github/CODEOWNERS:4 (rule `/src/payments/retry/policy.py`)');
  });
  it('a symbol defined in the same file is one line; no owners is said so', () => {
    const same = ownersLines({ ...result, owners: [], source: null, symbol: { ...result.symbol!, repo: 'ledger', path: 'ledger/core.py' } });
    assert.equal(same.length, 1);
    assert.equal(same[0].label, 'payments.retry.policy.Backoff — ledger/ledger/core.py');
    assert.equal(same[0].owners, 'no owners recorded');
    assert.equal(same[0].rule, 'no ownership file matches');
    assert.equal(same[0].source, undefined);
  });
});

function findHit(repo: string, path: string, line: number, text: string, col: number, end: number, extra: Partial<FindHit> = {}): FindHit {
  return {
    repo, path, uri: `file:///org/${repo}/${path}`, line, text,
    range: { start: { line, character: col }, end: { line, character: end } },
    owner: '@acme/finance', owners: ['@acme/finance', '@acme/backend'], ...extra,
  };
}

describe('findView', () => {
  const answer: FindResult = {
    results: [
      findHit('ledger', 'ledger/core.py', 19, '    d1 = pol.compute_delay(attempt)', 13, 26),
      findHit('payments', 'src/payments/retry/policy.py', 25, 'def compute_delay(attempt):', 4, 17, { owner: null, owners: [] }),
      findHit('ledger', 'ledger/fees.py', 5, '    return compute_delay(attempt)', 11, 24),
    ],
    more: false,
  };

  it('groups results by repo under separators, in the order of each repo\'s first result', () => {
    const view = findView(answer, 'compute_delay');
    assert.deepEqual(view.rows.map((r) => [r.type, r.label]), [
      ['separator', 'ledger · 2 results'],
      ['hit', 'ledger/core.py:20'],
      ['hit', 'ledger/fees.py:6'],
      ['separator', 'payments · 1 result'],
      ['hit', 'src/payments/retry/policy.py:26'],
    ]);
    assert.equal(view.title, `${FIND_TITLE} — 3 results in 2 repos`);
    assert.equal(view.error, undefined);
  });

  it('shows path:line, the matching line and the owners, and opens at the match range', () => {
    const row = findHitRow(answer.results[0]);
    assert.deepEqual(row, {
      type: 'hit',
      label: 'ledger/core.py:20',
      description: 'd1 = pol.compute_delay(attempt)',
      detail: '$(person) @acme/finance, @acme/backend',
      repo: 'ledger',
      uri: 'file:///org/ledger/ledger/core.py',
      line: 19, character: 13, endLine: 19, endCharacter: 26,
    });
    assert.equal(findHitRow(answer.results[1]).detail, '$(person) no owners recorded');
  });

  it('adds the kind icon, qualified name and uses for type:symbol results', () => {
    const row = findHitRow(findHit('payments', 'p.py', 3, 'class Backoff:', 6, 13,
      { kind: 'class', name: 'Backoff', qualname: 'payments.retry.policy.Backoff', uses: 4 }));
    assert.equal(row.label, '$(symbol-class) p.py:4');
    assert.equal(row.detail, '$(person) @acme/finance, @acme/backend · payments.retry.policy.Backoff · 4 uses');
  });

  it('ends with a "more results" row when the server stopped at the limit', () => {
    const view = findView({ ...answer, more: true }, 'compute_delay');
    const last = view.rows[view.rows.length - 1];
    assert.equal(last.type, 'more');
    assert.match(last.label, /more results — narrow the query/);
    assert.equal(view.rows[view.rows.length - 2].type, 'separator');
    assert.equal(view.title, `${FIND_TITLE} — first 3 results in 2 repos`);
  });

  it('turns a bad query into an error row and title with the column, without results', () => {
    const view = findView({ results: [], more: false, error: 'invalid regular expression: missing )', column: 11 }, 'foo repo:(');
    assert.equal(view.error, 'column 11: invalid regular expression: missing )');
    assert.equal(view.title, `${FIND_TITLE} — column 11: invalid regular expression: missing )`);
    assert.deepEqual(view.rows, [{ type: 'message', label: '$(error) column 11: invalid regular expression: missing )', detail: 'foo repo:(‸' }]);
  });

  it('reports an unusable index without a column, and no matches as a message row', () => {
    const bad = findView({ results: [], more: false, error: 'no index at /x.db' }, 'retry');
    assert.equal(bad.error, 'no index at /x.db');
    assert.equal(bad.rows[0].label, '$(error) no index at /x.db');
    const none = findView({ results: [], more: false }, ' nothing ');
    assert.deepEqual(none.rows, [{ type: 'message', label: 'No code matches "nothing"' }]);
    assert.equal(findView(null, 'x').rows[0].type, 'message');
  });
});

describe('code search text helpers', () => {
  it('escapes codicon syntax in source text', () => {
    assert.equal(escapeIcons('echo $(date) \\$(x)'), 'echo \\$(date) \\$(x)');
    assert.equal(findHitRow(findHit('r', 'a.sh', 0, 'x=$(pwd)', 2, 8)).description, 'x=\\$(pwd)');
  });

  it('drops indentation, keeps a far-right match visible and caps the width', () => {
    assert.equal(findSnippet('\t\treturn x', 3), 'return x');
    const long = `${'a'.repeat(200)}NEEDLE${'b'.repeat(300)}`;
    const snip = findSnippet(long, 200);
    assert.ok(snip.startsWith('…') && snip.includes('NEEDLE') && snip.length <= 162, snip);
    assert.equal(findSnippet('x'.repeat(10), 0, 8), `${'x'.repeat(7)}…`);
  });

  it('lists at most three owners', () => {
    assert.equal(ownersText(['@a', '@b', '@c', '@d', '@e']), '@a, @b, @c +2');
    assert.equal(ownersText([], '@solo'), '@solo');
    assert.equal(ownersText(undefined, null), 'no owners recorded');
  });

  it('formats the error column and marks it in the query', () => {
    assert.equal(findErrorText('unbalanced )', 5), 'column 5: unbalanced )');
    assert.equal(findErrorText('boom', null), 'boom');
    assert.equal(markColumn('a AND', 3), 'a ‸AND');
    assert.equal(markColumn('ab', 99), 'ab‸');
    assert.equal(markColumn('ab', undefined), 'ab');
  });
});
