-- Drives the crossnav Neovim plugin in a headless Neovim for tests/test_nvim.py.
--
--   nvim --headless --clean --cmd 'set rtp^=PLUGIN' -l tests/nvim_driver.lua CONFIG.json
--
-- CONFIG names the mode (how the client is started), the server command, the cases (files and
-- cursor positions computed by pytest from the fixture text) and the JSON file to write. Every case
-- runs under pcall with timeouts; the results file is always written and Neovim always exits.
local config = vim.json.decode(table.concat(vim.fn.readfile(_G.arg[1]), '\n'))
local results = { mode = config.mode, errors = {}, notes = {}, nvim = tostring(vim.version()) }

local function write_results()
  local f = assert(io.open(config.out, 'w'))
  f:write(vim.json.encode(results))
  f:close()
end

-- notifications are captured, not printed
vim.notify = function(msg, level)
  table.insert(results.notes, { msg = tostring(msg), level = level or vim.log.levels.INFO })
end

-- no browser: remember what would be opened
local opened = {}
vim.ui.open = function(url)
  table.insert(opened, url)
  return { wait = function() return { code = 0 } end }, nil
end

local function wait(ms, cond, what)
  if not vim.wait(ms, cond, 20) then
    error('timed out after ' .. ms .. ' ms waiting for ' .. what, 0)
  end
end

local function crossnav_client(buf)
  return vim.lsp.get_clients({ bufnr = buf or 0, name = 'crossnav' })[1]
end

--- Show `file` alone in the current tab, cursor at (0-based line, byte col); wait for the client.
local function show(file, line, col)
  vim.cmd('silent! tabonly')
  vim.cmd('silent! only')
  vim.cmd('silent! cclose')
  if vim.api.nvim_buf_get_name(0) ~= file then  -- (:edit of the current file would re-run FileType)
    vim.cmd.edit(vim.fn.fnameescape(file))
  end
  local buf = vim.api.nvim_get_current_buf()
  wait(config.attach_timeout, function()
    local c = crossnav_client(buf)
    return c ~= nil and c.initialized and vim.fn.exists(':CrossnavSearch') == 2
  end, 'the crossnav client to attach to ' .. file)
  if line then
    vim.api.nvim_win_set_cursor(0, { line + 1, col or 0 })
  end
  return buf
end

local function qf_items()
  local out = {}
  for _, it in ipairs(vim.fn.getqflist()) do
    table.insert(out, { file = vim.api.nvim_buf_get_name(it.bufnr), lnum = it.lnum, col = it.col, text = it.text })
  end
  return out
end

local function notes_since(n)
  local out = {}
  for i = n + 1, #results.notes do
    out[#out + 1] = results.notes[i]
  end
  return out
end

local function note_matching(n, pattern)
  for i = n + 1, #results.notes do
    if results.notes[i].msg:find(pattern) then
      return results.notes[i]
    end
  end
end

local cases = {}

function cases.attach(c)
  local t0 = vim.uv.hrtime()
  local buf = show(c.file)
  local client = crossnav_client(buf)
  results.attach = {
    ms = (vim.uv.hrtime() - t0) / 1e6,
    encoding = client.offset_encoding,
    root_dir = client.config.root_dir,
    loaded_plugin = vim.g.loaded_crossnav,
    commands = vim.tbl_filter(function(name)
      return vim.fn.exists(':' .. name) == 2
    end, { 'CrossnavSearch', 'CrossnavFind', 'CrossnavOwners', 'CrossnavOpen', 'CrossnavReindex', 'CrossnavStatus' }),
  }
end

function cases.definition(c)
  local buf = show(c.file, c.line, c.col)
  vim.lsp.buf.definition()
  wait(10000, function()
    return vim.api.nvim_get_current_buf() ~= buf
  end, 'definition to jump to another file')
  local pos = vim.api.nvim_win_get_cursor(0)
  results.definition = { file = vim.api.nvim_buf_get_name(0), line = pos[1] - 1, col = pos[2] }
  -- a second file in another repo reuses the same client (one server for all repos)
  wait(config.attach_timeout, function()
    return crossnav_client(0) ~= nil
  end, 'the client to attach to the definition target')
  results.definition.clients = #vim.lsp.get_clients({ name = 'crossnav' })
end

function cases.references(c)
  show(c.file, c.line, c.col)
  vim.fn.setqflist({}, 'f')
  vim.lsp.buf.references()
  wait(10000, function()
    return #vim.fn.getqflist() > 0
  end, 'references in the quickfix list')
  results.references = { items = qf_items(), qf_open = vim.fn.getqflist({ winid = 0 }).winid ~= 0 }
end

function cases.hover(c)
  show(c.file, c.line, c.col)
  local client = crossnav_client(0)
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local answers = vim.lsp.buf_request_sync(0, 'textDocument/hover', params, 10000)
  local texts = {}
  for _, a in pairs(answers or {}) do
    local contents = a.result and a.result.contents
    if type(contents) == 'table' then
      table.insert(texts, contents.value or vim.inspect(contents))
    elseif type(contents) == 'string' then
      table.insert(texts, contents)
    end
  end
  results.hover = table.concat(texts, '\n')
end

function cases.health(c)
  show(c.file)
  vim.cmd('checkhealth crossnav')
  results.health = vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

--- :checkhealth without opening a Python file (so no client is running)
function cases.health_noclient()
  vim.cmd('checkhealth crossnav')
  results.health_noclient = vim.api.nvim_buf_get_lines(0, 0, -1, false)
end

function cases.search(c)
  show(c.file)
  vim.fn.setqflist({}, 'f')
  vim.cmd('CrossnavSearch ' .. c.query)
  wait(10000, function()
    return vim.fn.getqflist({ title = 0 }).title == 'crossnav: ' .. c.query
  end, 'search results in the quickfix list')
  results.search = { items = qf_items(), qf_open = vim.fn.getqflist({ winid = 0 }).winid ~= 0 }
end

--- :CrossnavSearch! without telescope/fzf-lua: vim.ui.select, stubbed to pick the first entry
function cases.search_picker(c)
  local buf = show(c.file)
  local shown
  vim.ui.select = function(items, opts, on_choice)
    shown = { prompt = opts.prompt, items = vim.tbl_map(opts.format_item, items) }
    on_choice(items[1], 1)
  end
  vim.cmd('CrossnavSearch! ' .. c.query)
  wait(10000, function()
    return vim.api.nvim_get_current_buf() ~= buf
  end, 'the picked search result to open')
  local pos = vim.api.nvim_win_get_cursor(0)
  results.search_picker = { shown = shown, file = vim.api.nvim_buf_get_name(0), line = pos[1] - 1, col = pos[2] }
end

local function qf_find_items()
  local out = {}
  for _, it in ipairs(vim.fn.getqflist()) do
    local ud = type(it.user_data) == 'table' and it.user_data or {}
    table.insert(out, { file = vim.api.nvim_buf_get_name(it.bufnr), lnum = it.lnum, col = it.col, text = it.text,
      owner = ud.owner, owners = ud.owners, repo = ud.repo, kind = ud.kind, qualname = ud.qualname })
  end
  return out
end

--- :CrossnavFind {query} into the quickfix list; c.from_qf runs it from the quickfix window (where
--- only the global command exists)
local function find_case(name, c)
  show(c.file)
  local n = #results.notes
  vim.fn.setqflist({}, 'f')
  if c.from_qf then
    vim.fn.setqflist({}, ' ', { title = 'placeholder', items = { { filename = c.file, lnum = 1, text = 'x' } } })
    vim.cmd('botright copen')
  end
  local buftype = vim.bo.buftype
  vim.cmd('CrossnavFind ' .. c.query)
  local title = 'crossnav find: ' .. c.query
  wait(10000, function()
    return vim.fn.getqflist({ title = 0 }).title == title
  end, 'find results in the quickfix list')
  if c.wait_note then
    wait(5000, function()
      return note_matching(n, c.wait_note) ~= nil
    end, 'a notification matching ' .. c.wait_note)
  end
  results[name] = { items = qf_find_items(), title = vim.fn.getqflist({ title = 0 }).title, buftype = buftype,
    qf_open = vim.fn.getqflist({ winid = 0 }).winid ~= 0, notes = notes_since(n) }
end

function cases.find(c)
  find_case('find', c)
end

function cases.find_symbol(c)
  find_case('find_symbol', c)
end

function cases.find_more(c)
  find_case('find_more', c)
end

--- a malformed query: an error notification, the previous quickfix list untouched
function cases.find_error(c)
  show(c.file)
  local before = { { filename = c.file, lnum = 3, col = 1, text = 'keep me' } }
  vim.fn.setqflist({}, ' ', { title = 'previous list', items = before })
  local nr = vim.fn.getqflist({ nr = '$' }).nr
  local n = #results.notes
  vim.cmd('CrossnavFind ' .. c.query)
  wait(10000, function()
    return note_matching(n, 'find') ~= nil
  end, 'the find error')
  vim.wait(200) -- nothing else should arrive
  results.find_error = { notes = notes_since(n), title = vim.fn.getqflist({ title = 0 }).title,
    items = qf_items(), nr = vim.fn.getqflist({ nr = '$' }).nr, nr_before = nr }
end

--- :CrossnavFind! with vim.ui.select (stubbed to pick the first entry)
function cases.find_picker(c)
  local buf = show(c.file)
  local shown
  vim.ui.select = function(items, opts, on_choice)
    shown = { prompt = opts.prompt, items = vim.tbl_map(opts.format_item, items) }
    on_choice(items[1], 1)
  end
  vim.cmd('CrossnavFind! ' .. c.query)
  wait(10000, function()
    return vim.api.nvim_get_current_buf() ~= buf
  end, 'the picked find result to open')
  local pos = vim.api.nvim_win_get_cursor(0)
  results.find_picker = { shown = shown, file = vim.api.nvim_buf_get_name(0), line = pos[1] - 1, col = pos[2] }
end

function cases.status(c)
  show(c.file)
  local n = #results.notes
  vim.cmd('CrossnavStatus')
  wait(10000, function()
    return #results.notes > n
  end, ':CrossnavStatus to report')
  results.status = notes_since(n)
end

function cases.owners(c)
  show(c.file, c.line, c.col)
  local n = #results.notes
  vim.cmd('CrossnavOwners')
  local float
  wait(10000, function()
    for _, w in ipairs(vim.api.nvim_list_wins()) do
      if vim.api.nvim_win_get_config(w).relative ~= '' then
        float = w
        return true
      end
    end
    return #results.notes > n
  end, 'the owners float')
  results.owners = {
    float = float and vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(float), 0, -1, false) or nil,
    notes = notes_since(n),
  }
end

function cases.open(c)
  show(c.file, c.line, 0)
  local n = #results.notes
  opened = {}
  vim.cmd('CrossnavOpen')
  wait(10000, function()
    return #results.notes > n
  end, ':CrossnavOpen to report')
  results.open = { opened = opened, notes = notes_since(n), register = vim.fn.getreg('"') }
end

function cases.open_no_remote(c)
  show(c.file, c.line, 0)
  local n = #results.notes
  opened = {}
  vim.cmd('CrossnavOpen')
  wait(10000, function()
    return #results.notes > n
  end, ':CrossnavOpen to report')
  results.open_no_remote = { opened = opened, notes = notes_since(n) }
end

--- a buffer of every default filetype: the filetype Neovim detects, the client attached, the root
--- the effective root_markers find; and what the cross_only option becomes in initializationOptions
function cases.languages(c)
  local crossnav = require('crossnav')
  local cfg = (vim.lsp.config ~= nil and crossnav.method ~= 'start') and vim.lsp.config.crossnav or crossnav.lsp_config()
  local out = {
    defaults = { filetypes = crossnav.defaults.filetypes, root_markers = crossnav.defaults.root_markers },
    filetypes = cfg.filetypes,
    root_markers = cfg.root_markers,
    files = {},
  }
  for _, f in ipairs(c.files) do
    local buf = show(f)
    table.insert(out.files, { file = f, filetype = vim.bo[buf].filetype, attached = crossnav_client(buf) ~= nil,
      root = vim.fs.root(buf, cfg.root_markers) })
  end
  out.clients = #vim.lsp.get_clients({ name = 'crossnav' })
  out.sent = crossnav_client(0).config.init_options or vim.NIL
  out.cross_only = {
    list = crossnav.init_options({ cross_only = { 'python', 'cs', 'typescriptreact', 'typescript' } }).crossOnly,
    on = crossnav.init_options({ cross_only = true }).crossOnly,
    off = crossnav.init_options({ cross_only = false }).crossOnly,
    empty = crossnav.init_options({ cross_only = {} }).crossOnly,
  }
  results.languages = out
end

function cases.reindex(c)
  show(c.file)
  local n = #results.notes
  vim.cmd('CrossnavReindex')
  wait(90000, function()
    return note_matching(n, 'reindexed') or note_matching(n, 'failed')
  end, ':CrossnavReindex to finish')
  results.reindex = { notes = notes_since(n) }
end

-- ------------------------------------------------------------------------------------------ main

local function start()
  vim.lsp.set_log_level('warn')
  if config.lazy then
    -- like lazy.nvim with ft = 'python': a Python buffer is open before the plugin is on the
    -- runtimepath (so plugin/crossnav.lua is never sourced) and setup() runs
    vim.cmd.edit(vim.fn.fnameescape(config.cases.attach.file))
    vim.opt.rtp:prepend(config.plugin)
  end
  if config.mode == 'enable' then
    -- 0.11 native: lsp/crossnav.lua on the runtimepath, settings in vim.g.crossnav
    -- a list without Python: Python files keep every location (tests/test_nvim.py references)
    vim.g.crossnav = { cmd = config.cmd, cross_only = { 'go', 'cs' } }
    vim.lsp.enable('crossnav')
  elseif config.mode == 'setup-start' then
    -- the Neovim 0.10 code path (FileType autocmd + vim.lsp.start), forced on 0.11
    require('crossnav').setup({ cmd = config.cmd, db = config.db, method = 'start' })
  else
    require('crossnav').setup({ cmd = config.cmd, db = config.db })
  end
end

local ok, err = xpcall(start, debug.traceback)
if not ok then
  results.errors.start = err
end
for _, name in ipairs(config.order) do
  if config.cases[name] and not results.errors.attach and ok then
    local t0 = vim.uv.hrtime()
    local cok, cerr = xpcall(cases[name], debug.traceback, config.cases[name])
    results['ms_' .. name] = (vim.uv.hrtime() - t0) / 1e6
    if not cok then
      results.errors[name] = tostring(cerr)
    end
  end
end

for _, client in ipairs(vim.lsp.get_clients({ name = 'crossnav' })) do
  if vim.fn.has('nvim-0.11') == 1 then
    client:stop(true)
  else
    client.stop(true)
  end
end
write_results()
vim.cmd('qall!')
