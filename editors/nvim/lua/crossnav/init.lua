--- crossnav for Neovim: starts `crossnav serve` for buffers of every language it indexes (Python, Go,
--- TypeScript/JavaScript, Java, Kotlin, Rust, C#, Ruby, C, C++) and adds commands on top of the
--- standard LSP features (definition, references, hover, workspace symbols come from the server).
---
--- Neovim 0.11+: `setup()` uses vim.lsp.config() + vim.lsp.enable() (or skip setup() and just call
--- vim.lsp.enable('crossnav'): lsp/crossnav.lua ships the config).
--- Neovim 0.10: `setup()` starts the client from a FileType autocmd with vim.lsp.start().
local M = {}

local has_011 = vim.fn.has('nvim-0.11') == 1

--- @class crossnav.Opts
--- @field cmd? string[]                 server command (default { 'crossnav', 'serve' })
--- @field db? string                    index file (initializationOptions.db; default: the server's default)
--- @field cross_only? boolean|string[]  definitions/references only in *other* repos: for every file (true) or for
---                                      files of these languages ({ 'python', 'go' }: beside pyright and gopls)
--- @field max_references? integer
--- @field max_symbols? integer
--- @field jedi_budget? number
--- @field init_options? table           extra initializationOptions, passed as is
--- @field filetypes? string[]           default: every language crossnav indexes (M.defaults.filetypes)
--- @field root_markers? (string|string[])[]  default { '.git', { 'pyproject.toml', 'go.mod', 'package.json', ... } }
--- @field method? 'auto'|'enable'|'start'  how to start the client (auto: enable on 0.11+, start on 0.10)
--- @field capabilities? table
--- @field on_attach? fun(client: vim.lsp.Client, bufnr: integer)
--- @field commands? boolean             buffer-local :Crossnav* commands (default true)
--- @field picker? 'auto'|'telescope'|'fzf-lua'|'select'   used by :CrossnavSearch! (default auto)
--- @field search_limit? integer         results of :CrossnavSearch (default 100)
--- @field find_limit? integer           results of :CrossnavFind without count:N (default 100)
--- @field owners_display? 'float'|'notify'  how :CrossnavOwners shows its answer (default float)

--- The languages the server indexes (its `files.language` names, what `cross_only` lists).
M.languages = { 'python', 'go', 'typescript', 'javascript', 'java', 'kotlin', 'rust', 'csharp', 'ruby', 'c', 'cpp' }

--- Neovim filetypes whose name is not the server's language name.
M.filetype_language = { cs = 'csharp', typescriptreact = 'typescript', javascriptreact = 'javascript' }

M.defaults = {
  cmd = { 'crossnav', 'serve' },
  filetypes = { 'python', 'go', 'typescript', 'typescriptreact', 'javascript', 'javascriptreact', 'java', 'kotlin',
    'rust', 'cs', 'ruby', 'c', 'cpp' },
  -- the git repository is what crossnav indexes; outside one, the nearest project manifest (equal
  -- priority). Only literal names work here: C# projects (*.csproj) rely on .git.
  root_markers = { '.git', { 'pyproject.toml', 'setup.cfg', 'go.mod', 'package.json', 'Cargo.toml', 'pom.xml',
    'build.gradle', 'build.gradle.kts', 'Gemfile', 'CMakeLists.txt' } },
  method = 'auto',
  commands = true,
  picker = 'auto',
  search_limit = 100,
  find_limit = 100,
  owners_display = 'float',
}

--- Options given to setup() (vim.g.crossnav is read too, setup() wins).
M.opts = nil
--- How setup() started the client: 'enable' | 'start' (nil before setup()).
M.method = nil

--- The effective options: defaults < vim.g.crossnav < setup().
--- @return crossnav.Opts
function M.options()
  local g = type(vim.g.crossnav) == 'table' and vim.g.crossnav or {}
  local o = vim.tbl_extend('force', {}, M.defaults, g, M.opts or {})
  -- lists replace, never merge element-wise
  for _, k in ipairs({ 'cmd', 'filetypes', 'root_markers' }) do
    o[k] = (M.opts and M.opts[k]) or g[k] or M.defaults[k]
  end
  return o
end

--- initializationOptions for the server from the options.
function M.init_options(o)
  o = o or M.options()
  local init = vim.deepcopy(o.init_options or {})
  if o.db and o.db ~= '' then
    init.db = vim.fn.expand(o.db)
  end
  if o.cross_only ~= nil then
    init.crossOnly = M.cross_only_value(o.cross_only)
  end
  if o.max_references then
    init.maxReferences = o.max_references
  end
  if o.max_symbols then
    init.maxSymbols = o.max_symbols
  end
  if o.jedi_budget then
    init.jediBudget = o.jedi_budget
  end
  if next(init) == nil then
    return nil -- ({} would be sent as a JSON array)
  end
  return init
end

--- initializationOptions.crossOnly for the `cross_only` option: true/false, or the list of server
--- language names (filetypes such as `cs` or `typescriptreact` are translated; an empty list is false).
--- @param v boolean|string[]
--- @return boolean|string[]
function M.cross_only_value(v)
  if type(v) ~= 'table' then
    return v and true or false
  end
  local out, seen = {}, {}
  for _, name in ipairs(v) do
    local lang = M.filetype_language[name] or name
    if not seen[lang] then
      seen[lang] = true
      out[#out + 1] = lang
    end
  end
  if #out == 0 then
    return false -- no language: the same as off
  end
  return out
end

--- One server answers for every repo (they share one index), so reuse the running client whatever
--- the root directory of the new buffer.
local function reuse_client(client, config)
  if client.name ~= config.name then
    return false
  end
  local stopped
  if has_011 then
    stopped = client:is_stopped()
  else
    stopped = client.is_stopped()
  end
  return not stopped
end

--- The LspAttach autocmd that adds the commands (plugin/crossnav.lua creates the same one; this covers
--- a runtimepath entry added after startup, when plugin/ files are not sourced).
function M.ensure_autocmd()
  vim.api.nvim_create_autocmd('LspAttach', {
    group = vim.api.nvim_create_augroup('crossnav.attach', { clear = true }),
    desc = 'crossnav: buffer-local commands',
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if client and client.name == 'crossnav' then
        M.on_attach(client, ev.buf)
      end
    end,
  })
end

--- The client config (also what lsp/crossnav.lua returns).
--- @return table
function M.lsp_config()
  M.ensure_autocmd()
  local o = M.options()
  local cfg = {
    name = 'crossnav',
    cmd = o.cmd,
    filetypes = o.filetypes,
    root_markers = o.root_markers,
    init_options = M.init_options(o),
    reuse_client = reuse_client,
  }
  if o.capabilities then
    cfg.capabilities = o.capabilities
  end
  return cfg
end

-- ---------------------------------------------------------------------------------- starting

local start_group = 'crossnav.start'

--- Start (or reuse) the crossnav client for a buffer with vim.lsp.start (the Neovim 0.10 path).
--- @param bufnr? integer
--- @return integer? client_id
function M.start(bufnr)
  bufnr = (bufnr == nil or bufnr == 0) and vim.api.nvim_get_current_buf() or bufnr
  if vim.bo[bufnr].buftype ~= '' then
    return nil
  end
  local cfg = M.lsp_config()
  local markers = cfg.root_markers
  cfg.root_markers = nil
  cfg.filetypes = nil
  local name = vim.api.nvim_buf_get_name(bufnr)
  cfg.root_dir = vim.fs.root(bufnr, markers) or (name ~= '' and vim.fs.dirname(name)) or nil
  local ok, id = pcall(vim.lsp.start, cfg, { bufnr = bufnr, reuse_client = reuse_client })
  if not ok then
    if not M._start_error_shown then
      M._start_error_shown = true
      vim.notify(('crossnav: cannot start %s: %s (see :checkhealth crossnav)'):format(
        table.concat(cfg.cmd, ' '), id), vim.log.levels.ERROR)
    end
    return nil
  end
  return id
end

--- @param opts? crossnav.Opts
function M.setup(opts)
  M.opts = vim.deepcopy(opts or {})
  M.ensure_autocmd()
  local o = M.options()
  local method = o.method
  if method == 'auto' or method == nil then
    method = (vim.lsp.config ~= nil and vim.lsp.enable ~= nil) and 'enable' or 'start'
  end
  pcall(vim.api.nvim_del_augroup_by_name, start_group)
  M.method = method
  if method == 'enable' then
    local cfg = M.lsp_config()
    cfg.name = nil
    vim.lsp.config('crossnav', cfg)
    vim.lsp.enable('crossnav')
    return
  end
  local group = vim.api.nvim_create_augroup(start_group, { clear = true })
  vim.api.nvim_create_autocmd('FileType', {
    group = group,
    pattern = o.filetypes,
    desc = 'crossnav: start the language server',
    callback = function(ev)
      M.start(ev.buf)
    end,
  })
  -- buffers already open when setup() runs (e.g. when lazy-loaded on ft = { 'python', 'go', ... })
  for _, buf in ipairs(vim.api.nvim_list_bufs()) do
    if vim.api.nvim_buf_is_loaded(buf) and vim.tbl_contains(o.filetypes, vim.bo[buf].filetype) then
      M.start(buf)
    end
  end
end

-- ---------------------------------------------------------------------------------- requests

local function notify(msg, level)
  vim.notify('crossnav: ' .. msg, level or vim.log.levels.INFO, { title = 'crossnav' })
end

local function nilify(v)
  if v == vim.NIL then
    return nil
  end
  return v
end

--- The crossnav client for a buffer (or any running one).
--- @param bufnr? integer
--- @return vim.lsp.Client?
function M.client(bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  return vim.lsp.get_clients({ bufnr = bufnr, name = 'crossnav' })[1] or vim.lsp.get_clients({ name = 'crossnav' })[1]
end

local function client_request(client, method, params, handler, bufnr)
  if has_011 then
    return client:request(method, params, handler, bufnr)
  end
  return client.request(method, params, handler, bufnr)
end

--- Run a crossnav server command (workspace/executeCommand) asynchronously.
--- @param command string e.g. 'crossnav.search'
--- @param args table the single argument object
--- @param cb fun(err: table?, result: any, client: vim.lsp.Client?)
--- @param bufnr? integer
function M.execute(command, args, cb, bufnr)
  bufnr = bufnr or vim.api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    cb({ message = 'no crossnav language server is running (open a source file, see :checkhealth crossnav)' }, nil, nil)
    return
  end
  local params = { command = command, arguments = { args } }
  local ok = client_request(client, 'workspace/executeCommand', params, function(err, result)
    cb(err, nilify(result), client)
  end, bufnr)
  if not ok then
    cb({ message = 'the crossnav server is not running' }, nil, client)
  end
end

--- Run a crossnav server command and wait for the answer.
--- @return any result, string? error
function M.execute_sync(command, args, timeout_ms, bufnr)
  local client = M.client(bufnr)
  if not client then
    return nil, 'no crossnav client'
  end
  local params = { command = command, arguments = { args } }
  local resp, err
  if has_011 then
    resp, err = client:request_sync('workspace/executeCommand', params, timeout_ms or 3000, bufnr)
  else
    resp, err = client.request_sync('workspace/executeCommand', params, timeout_ms or 3000, bufnr)
  end
  if not resp then
    return nil, err or 'no answer'
  end
  if resp.err then
    return nil, resp.err.message or vim.inspect(resp.err)
  end
  return nilify(resp.result), nil
end

local function position_params(client)
  return vim.lsp.util.make_position_params(0, client.offset_encoding)
end

-- ---------------------------------------------------------------------------------- search

--- Quickfix items for crossnav.search results, in the server's order (best first).
function M.search_items(results, encoding)
  local items = {}
  for _, r in ipairs(results or {}) do
    local item = vim.lsp.util.locations_to_items({ { uri = r.uri, range = r.range } }, encoding)[1]
    if item then
      item.text = ('%s: %s [%s]'):format(r.repo, r.qualname, r.kind or '?')
      item.user_data = r
      items[#items + 1] = item
    end
  end
  return items
end

local function jump(item)
  vim.cmd('normal! m\'')
  vim.cmd.edit(vim.fn.fnameescape(item.filename))
  pcall(vim.api.nvim_win_set_cursor, 0, { item.lnum, math.max(item.col - 1, 0) })
end

local pickers = {}

function pickers.telescope(items, title)
  local ok = pcall(require, 'telescope')
  if not ok then
    return false
  end
  local tp, tf, tc = require('telescope.pickers'), require('telescope.finders'), require('telescope.config').values
  tp.new({}, {
    prompt_title = title,
    finder = tf.new_table({
      results = items,
      entry_maker = function(it)
        return { value = it, display = it.text, ordinal = it.text, filename = it.filename, lnum = it.lnum, col = it.col }
      end,
    }),
    sorter = tc.generic_sorter({}),
    previewer = tc.qflist_previewer({}),
  }):find()
  return true
end

pickers['fzf-lua'] = function(items, title)
  local ok, fzf = pcall(require, 'fzf-lua')
  if not ok then
    return false
  end
  local by_line, lines = {}, {}
  for _, it in ipairs(items) do
    local line = ('%s\t%s:%d'):format(it.text, vim.fn.fnamemodify(it.filename, ':~:.'), it.lnum)
    by_line[line] = it
    lines[#lines + 1] = line
  end
  fzf.fzf_exec(lines, {
    prompt = title .. '> ',
    actions = {
      ['default'] = function(selected)
        local it = selected and by_line[selected[1]]
        if it then
          jump(it)
        end
      end,
    },
  })
  return true
end

function pickers.select(items, title)
  vim.ui.select(items, {
    prompt = title,
    format_item = function(it)
      return it.text
    end,
  }, function(choice)
    if choice then
      jump(choice)
    end
  end)
  return true
end

local function pick(items, title)
  local want = M.options().picker or 'auto'
  local order = want == 'auto' and { 'telescope', 'fzf-lua', 'select' } or { want, 'select' }
  for _, name in ipairs(order) do
    local p = pickers[name]
    if p and p(items, title) then
      return
    end
  end
end

--- :CrossnavSearch: symbols across all indexed repos into the quickfix list (or a picker).
--- @param query string
--- @param opts? { picker?: boolean, limit?: integer, on_done?: fun(items: table[]) }
function M.search(query, opts)
  opts = opts or {}
  if not query or query == '' then
    vim.ui.input({ prompt = 'crossnav symbol: ' }, function(q)
      if q and q ~= '' then
        M.search(q, opts)
      end
    end)
    return
  end
  M.execute('crossnav.search', { query = query, limit = opts.limit or M.options().search_limit }, function(err, result, client)
    if err then
      notify('search failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
      return
    end
    local items = M.search_items(result, client and client.offset_encoding or 'utf-16')
    if #items == 0 then
      notify(('no symbol matches %q'):format(query), vim.log.levels.WARN)
    else
      local title = 'crossnav: ' .. query
      if opts.picker then
        pick(items, title)
      else
        vim.fn.setqflist({}, ' ', { title = title, items = items })
        vim.cmd('botright copen')
      end
    end
    if opts.on_done then
      opts.on_done(items)
    end
  end)
end

-- ---------------------------------------------------------------------------------- find (code search)

--- The quickfix text of one crossnav.find result: `repo: line` (leading blanks dropped), symbols add
--- ` [kind]`, file-only results (a query of filters only) show the path.
local function find_text(r)
  local kind = nilify(r.kind)
  if kind == 'file' then
    return ('%s: %s'):format(r.repo, r.path)
  end
  local text = ((nilify(r.text) or ''):gsub('^%s+', ''))
  if kind then
    return ('%s: %s [%s]'):format(r.repo, text, kind)
  end
  return ('%s: %s'):format(r.repo, text)
end

--- Quickfix items for crossnav.find results, in the server's order (ranked symbols, then files and
--- lines). user_data is the result itself (repo, path, owner, owners, kind, qualname...).
function M.find_items(results, encoding)
  local locations = {}
  for i, r in ipairs(results or {}) do
    locations[i] = { uri = r.uri, range = r.range, crossnav_index = i }
  end
  -- one call (each file read once), then back to the server's order through user_data (the location)
  local items, ordered = vim.lsp.util.locations_to_items(locations, encoding), {}
  for _, item in ipairs(items) do
    local i = type(item.user_data) == 'table' and item.user_data.crossnav_index
    if not i then
      ordered = nil -- an older Neovim without user_data: one call per result
      break
    end
    ordered[i] = item
  end
  if not ordered then
    ordered = {}
    for i, loc in ipairs(locations) do
      ordered[i] = vim.lsp.util.locations_to_items({ loc }, encoding)[1]
    end
  end
  local out = {}
  for i, r in ipairs(results or {}) do
    local item = ordered[i]
    if item then
      item.text = find_text(r)
      item.user_data = r
      out[#out + 1] = item
    end
  end
  return out
end

--- Query words for completion of :CrossnavFind (after `repo:`, the indexed repo names).
function M.find_complete(arglead)
  local prefix = arglead:match('^(%-?repo:)')
  if prefix then
    return vim.tbl_map(function(n)
      return prefix .. n
    end, vim.tbl_filter(function(n)
      return vim.startswith(prefix .. n, arglead)
    end, M.repo_names()))
  end
  local words = { 'repo:', '-repo:', 'file:', '-file:', 'lang:', 'owner:', '-owner:', 'type:symbol', 'kind:class',
    'kind:function', 'kind:method', 'count:', 'count:all', 'case:yes', 'case:no', 'AND', 'OR', 'NOT' }
  return vim.tbl_filter(function(w)
    return vim.startswith(w, arglead)
  end, words)
end

--- :CrossnavFind: code search across all indexed repos (the query language of `crossnav search`:
--- terms, "phrases", /regex/, repo:, file:, owner:, type:symbol, count:N, AND/OR/NOT, parentheses)
--- into the quickfix list (or a picker). A bad query is reported with its column, the quickfix list
--- is left alone.
--- @param query string
--- @param opts? { picker?: boolean, limit?: integer, on_done?: fun(items: table[]?, res: table?, err: table?) }
function M.find(query, opts)
  opts = opts or {}
  if not query or vim.trim(query) == '' then
    vim.ui.input({ prompt = 'crossnav find: ' }, function(q)
      if q and vim.trim(q) ~= '' then
        M.find(q, opts)
      end
    end)
    return
  end
  query = vim.trim(query)
  M.execute('crossnav.find', { query = query, limit = opts.limit or M.options().find_limit }, function(err, res, client)
    local items
    if err then
      notify('find failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif type(res) ~= 'table' then
      notify('find failed: no answer from the server', vim.log.levels.ERROR)
    elseif nilify(res.error) then
      local col = nilify(res.column)
      notify(('find: %s%s in query %q'):format(res.error, col and (' (column %d)'):format(col) or '', query),
        vim.log.levels.ERROR)
    else
      items = M.find_items(res.results, client and client.offset_encoding or 'utf-16')
      local title = 'crossnav find: ' .. query
      if #items == 0 then
        notify(('nothing matches %q'):format(query), vim.log.levels.WARN)
      elseif opts.picker then
        pick(items, title)
      else
        vim.fn.setqflist({}, ' ', { title = title, items = items })
        vim.cmd('botright copen')
      end
      if res.more then
        notify('more results: narrow the query or add count:N', vim.log.levels.WARN)
      end
    end
    if opts.on_done then
      opts.on_done(items, res, err)
    end
  end)
end

-- ---------------------------------------------------------------------------------- owners

local function owner_lines(o, heading)
  local lines = { heading }
  local owners = o.owners or {}
  if #owners > 0 then
    lines[#lines + 1] = '- Owners: ' .. table.concat(owners, ', ')
  else
    lines[#lines + 1] = '- Owners: none found (no CODEOWNERS/OWNERS/catalog rule matches)'
  end
  if o.source then
    local src = o.source
    if o.sourceLine then
      src = src .. ' line ' .. o.sourceLine
    end
    if o.rule then
      src = src .. ' (rule `' .. o.rule .. '`)'
    end
    lines[#lines + 1] = '- From: ' .. src
  end
  if o.contributing then
    lines[#lines + 1] = '- Contributing: ' .. o.contributing
  end
  if o.lifecycle then
    lines[#lines + 1] = '- Lifecycle: ' .. o.lifecycle
  end
  if o.system then
    lines[#lines + 1] = '- System: ' .. o.system
  end
  if o.webUrl then
    lines[#lines + 1] = '- Code host: ' .. o.webUrl
  end
  return lines
end

--- Markdown lines describing a crossnav.owners answer.
function M.format_owners(res)
  local lines = owner_lines(res, ('**File** `%s` in **%s**'):format(res.path or '?', res.repo or '?'))
  local s = nilify(res.symbol)
  if s then
    lines[#lines + 1] = ''
    vim.list_extend(lines, owner_lines(s, ('**Symbol** `%s` in **%s** (%s:%d)'):format(
      s.qualname or '?', s.repo or '?', s.path or '?', (s.line or 0) + 1)))
  end
  return lines
end

--- :CrossnavOwners: who owns this file, and the symbol under the cursor.
function M.owners(opts)
  opts = opts or {}
  local client = M.client()
  if not client then
    notify('no crossnav language server is running', vim.log.levels.ERROR)
    return
  end
  local pos = position_params(client)
  local args = { uri = pos.textDocument.uri, line = pos.position.line, character = pos.position.character }
  M.execute('crossnav.owners', args, function(err, res)
    if err then
      notify('owners failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif not res then
      notify('this file is not in the crossnav index', vim.log.levels.WARN)
    else
      local lines = M.format_owners(res)
      if (opts.display or M.options().owners_display) == 'notify' then
        notify(table.concat(lines, '\n'))
      else
        vim.lsp.util.open_floating_preview(lines, 'markdown', { border = 'rounded', focus_id = 'crossnav-owners' })
      end
    end
    if opts.on_done then
      opts.on_done(res, err)
    end
  end)
end

-- ---------------------------------------------------------------------------------- open in code host

--- :CrossnavOpen: the code host URL of the current line; opens it (unless bang), copies it, prints it.
--- @param opts? { line?: integer (1-based), no_open?: boolean, on_done?: fun(url: string?) }
function M.open(opts)
  opts = opts or {}
  local line = (opts.line or vim.api.nvim_win_get_cursor(0)[1]) - 1
  M.execute('crossnav.webUrl', { uri = vim.uri_from_bufnr(0), line = line }, function(err, res)
    local url
    if err then
      notify('webUrl failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif not res then
      notify('this file is not in the crossnav index', vim.log.levels.WARN)
    elseif not nilify(res.url) then
      notify(('no code host URL for repo %s (it has no known git remote)'):format(res.repo or '?'), vim.log.levels.WARN)
    else
      url = res.url
      local reg = vim.fn.has('clipboard') == 1 and '+' or '"'
      pcall(vim.fn.setreg, reg, url)
      local how = ('copied to register %s'):format(reg)
      if not opts.no_open and vim.ui.open then
        local ok, _, open_err = pcall(vim.ui.open, url)
        if not ok or open_err then
          how = how .. ', could not open a browser'
        end
      end
      notify(('%s (%s)'):format(url, how))
    end
    if opts.on_done then
      opts.on_done(url)
    end
  end)
end

-- ---------------------------------------------------------------------------------- reindex & status

--- :CrossnavReindex [repo...]: run `crossnav index` for the indexed repos (or the named ones).
function M.reindex(repos, opts)
  opts = opts or {}
  local args = {}
  if repos and #repos > 0 then
    args.repos = repos
  end
  notify(('reindexing %s…'):format(args.repos and table.concat(repos, ', ') or 'all indexed repos'))
  M.execute('crossnav.reindex', args, function(err, res)
    if err then
      notify('reindex failed: ' .. (err.message or vim.inspect(err)), vim.log.levels.ERROR)
    elseif not res or not res.ok then
      local why = res and (nilify(res.error) or table.concat(res.errors or {}, '; ')) or 'no answer'
      if res and res.exitCode then
        why = ('exit code %s: %s'):format(res.exitCode, why)
      end
      notify('reindex failed: ' .. why, vim.log.levels.ERROR)
    else
      notify(('reindexed %d repo%s: %s'):format(res.repos or 0, res.repos == 1 and '' or 's', res.summary or ''))
    end
    if opts.on_done then
      opts.on_done(res, err)
    end
  end)
end

--- Repo names in the index (for completion), or {}.
function M.repo_names()
  local st = M.execute_sync('crossnav.status', {}, 1000, vim.api.nvim_get_current_buf())
  local names = {}
  for _, r in ipairs(st and st.repos or {}) do
    names[#names + 1] = r.name
  end
  return names
end

--- :CrossnavStatus: the index and whether repos moved on since they were indexed.
function M.status()
  M.execute('crossnav.status', {}, function(err, st)
    if err or not st then
      notify('status failed: ' .. (err and err.message or 'no answer'), vim.log.levels.ERROR)
      return
    end
    if nilify(st.error) then
      notify(('%s: %s'):format(st.db, st.error), vim.log.levels.ERROR)
      return
    end
    local lines = { ('index %s (%d repos, written %s)'):format(st.db, #(st.repos or {}), nilify(st.dbModified) or '?') }
    for _, r in ipairs(st.repos or {}) do
      lines[#lines + 1] = ('  %-20s %s  indexed %s%s'):format(r.name, (nilify(r.head) or ''):sub(1, 10),
        nilify(r.indexedAt) or '?', r.stale and '  STALE (run :CrossnavReindex)' or '')
    end
    notify(table.concat(lines, '\n'))
  end)
end

-- ---------------------------------------------------------------------------------- commands

--- Called on LspAttach for crossnav clients (by plugin/crossnav.lua).
function M.on_attach(client, bufnr)
  local o = M.options()
  if o.commands ~= false then
    local cmd = function(name, fn, spec)
      vim.api.nvim_buf_create_user_command(bufnr, name, fn, spec)
    end
    cmd('CrossnavSearch', function(a)
      M.search(a.args, { picker = a.bang })
    end, { nargs = '*', bang = true, desc = 'crossnav: search symbols in all indexed repos (! = picker)' })
    local find_cmd = function(a)
      M.find(a.args, { picker = a.bang })
    end
    local find_spec = { nargs = '*', bang = true, complete = M.find_complete,
      desc = 'crossnav: code search in all indexed repos (query language of `crossnav search`; ! = picker)' }
    cmd('CrossnavFind', find_cmd, find_spec)
    -- also global once a client runs, so that it works from the quickfix window or any other buffer
    vim.api.nvim_create_user_command('CrossnavFind', find_cmd, find_spec)
    cmd('CrossnavOwners', function()
      M.owners()
    end, { nargs = 0, desc = 'crossnav: owners of this file and of the symbol under the cursor' })
    cmd('CrossnavOpen', function(a)
      M.open({ line = a.range > 0 and a.line1 or nil, no_open = a.bang })
    end, { nargs = 0, range = true, bang = true, desc = 'crossnav: open/copy the code host URL of this line (! = copy only)' })
    cmd('CrossnavReindex', function(a)
      M.reindex(a.fargs)
    end, { nargs = '*', complete = function()
      return M.repo_names()
    end, desc = 'crossnav: re-run `crossnav index` for all (or the named) repos' })
    cmd('CrossnavStatus', function()
      M.status()
    end, { nargs = 0, desc = 'crossnav: index path, repos and staleness' })
  end
  if type(o.on_attach) == 'function' then
    o.on_attach(client, bufnr)
  end
end

return M
