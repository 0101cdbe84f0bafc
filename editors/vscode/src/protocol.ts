/** The answers of the crossnav server's `workspace/executeCommand` commands (server/server.py). */

export interface LspPosition {
  line: number;
  character: number;
}

export interface LspRange {
  start: LspPosition;
  end: LspPosition;
}

export interface RepoStatus {
  name: string;
  root: string;
  head: string | null;
  branch?: string | null;
  indexedAt: string | null;
  currentHead: string | null;
  stale: boolean;
}

/** `crossnav.status` */
export interface StatusResult {
  db: string;
  dbModified?: string | null;
  error?: string | null;
  repos: RepoStatus[];
}

export interface Ownership {
  owners?: string[];
  source?: string | null;
  sourceLine?: number | null;
  rule?: string | null;
  contributing?: string | null;
  lifecycle?: string | null;
  system?: string | null;
  webUrl?: string | null;
}

/** `crossnav.owners` [{uri, line?, character?}] */
export interface OwnersResult extends Ownership {
  repo: string;
  path: string;
  symbol: (Ownership & { qualname: string; repo: string; path: string; line: number }) | null;
}

/** `crossnav.webUrl` [{uri, line}] */
export interface WebUrlResult {
  url: string | null;
  repo: string;
  path: string;
}

/** `crossnav.search` [{query, limit}] → SearchHit[] */
export interface SearchHit {
  name: string;
  qualname: string;
  kind: string | null;
  repo: string;
  path: string;
  uses: number;
  uri: string;
  range: LspRange;
}

/** One `crossnav.find` result: a matching line (content search) or a definition (`type:symbol`,
 *  which adds kind, name, qualname and uses). `line` is 0-based; `range` covers the match. */
export interface FindHit {
  repo: string;
  path: string;
  uri: string;
  range: LspRange;
  line: number;
  text: string;
  owner: string | null;
  owners: string[];
  kind?: string | null;
  name?: string;
  qualname?: string;
  uses?: number;
}

/** `crossnav.find` [{query, limit}]; a bad query gives `error` and its 1-based `column` (none when
 *  the index itself is unusable). */
export interface FindResult {
  results: FindHit[];
  more: boolean;
  error?: string | null;
  column?: number | null;
}

/** `crossnav.reindex` [{repos?}] */
export interface ReindexResult {
  ok: boolean;
  exitCode?: number;
  repos?: number;
  summary?: string;
  error?: string | null;
  errors?: string[];
}

export const COMMANDS = {
  status: 'crossnav.status',
  owners: 'crossnav.owners',
  webUrl: 'crossnav.webUrl',
  search: 'crossnav.search',
  find: 'crossnav.find',
  reindex: 'crossnav.reindex',
} as const;
