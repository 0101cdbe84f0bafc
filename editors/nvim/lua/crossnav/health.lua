--- :checkhealth crossnav
local M = {}

local health = vim.health

--- The client config in effect: vim.lsp.config (0.11+, includes user overrides) or setup()'s.
local function effective_config()
  local crossnav = require('crossnav')
  if crossnav.method ~= 'start' and vim.lsp.config ~= nil then
    local ok, cfg = pcall(function()
      return vim.lsp.config['crossnav']
    end)
    if ok and type(cfg) == 'table' and cfg.cmd then
      return cfg
    end
  end
  return crossnav.lsp_config()
end

--- The database path the server will use: initializationOptions.db, `serve --db`, $CROSSNAV_DB,
--- $XDG_CACHE_HOME/crossnav/index.db (same order as the server).
local function db_path(cfg)
  local init = cfg.init_options or {}
  if type(init.db) == 'string' and init.db ~= '' then
    return vim.fn.expand(init.db), 'initializationOptions.db'
  end
  if type(cfg.cmd) == 'table' then
    for i, a in ipairs(cfg.cmd) do
      if a == '--db' and cfg.cmd[i + 1] then
        return vim.fn.expand(cfg.cmd[i + 1]), 'serve --db'
      end
      local v = type(a) == 'string' and a:match('^%-%-db=(.+)$')
      if v then
        return vim.fn.expand(v), 'serve --db'
      end
    end
  end
  local env = vim.env.CROSSNAV_DB
  if env and env ~= '' then
    return vim.fn.expand(env), '$CROSSNAV_DB'
  end
  local cache = vim.env.XDG_CACHE_HOME
  if not cache or cache == '' then
    cache = vim.fs.joinpath(vim.uv.os_homedir(), '.cache')
  end
  return vim.fs.joinpath(cache, 'crossnav', 'index.db'), 'default path'
end

local function age(seconds)
  if seconds < 60 then
    return 'just now'
  end
  for _, u in ipairs({ { 'd', 86400 }, { 'h', 3600 }, { 'min', 60 } }) do
    if seconds >= u[2] then
      return ('%d %s ago'):format(math.floor(seconds / u[2]), u[1])
    end
  end
  return 'just now'
end

local function size(n)
  for _, u in ipairs({ { 'GiB', 2 ^ 30 }, { 'MiB', 2 ^ 20 }, { 'KiB', 2 ^ 10 } }) do
    if n >= u[2] then
      return ('%.1f %s'):format(n / u[2], u[1])
    end
  end
  return n .. ' B'
end

local function check_server(cfg)
  local cmd = cfg.cmd
  if type(cmd) == 'function' then
    health.info('server command is a function (cannot check it here)')
    return
  end
  if type(cmd) ~= 'table' or not cmd[1] then
    health.error('no server command configured', { "require('crossnav').setup{ cmd = { 'crossnav', 'serve' } }" })
    return
  end
  if vim.fn.executable(cmd[1]) ~= 1 then
    health.error(('server executable not found: %s'):format(cmd[1]), {
      'Install the crossnav CLI so that it is on $PATH (e.g. `pipx install .` in a crossnav checkout)',
      "or point setup{ cmd = { '/path/to/crossnav', 'serve' } } at it",
    })
    return
  end
  -- `crossnav --version`: the command up to `serve`
  local version_cmd = {}
  for _, a in ipairs(cmd) do
    if a == 'serve' then
      break
    end
    version_cmd[#version_cmd + 1] = a
  end
  version_cmd[#version_cmd + 1] = '--version'
  local ok, res = pcall(function()
    return vim.system(version_cmd, { text = true }):wait(10000)
  end)
  local exe = vim.fn.exepath(cmd[1])
  if ok and res and res.code == 0 then
    health.ok(('server: %s (%s)'):format(vim.trim(res.stdout or ''), exe ~= '' and exe or cmd[1]))
  else
    local why = ok and res and vim.trim((res.stderr or '') .. (res.stdout or '')) or tostring(res)
    health.error(('server found (%s) but `%s` failed: %s'):format(exe, table.concat(version_cmd, ' '), why))
  end
end

local function check_database(cfg)
  local path, from = db_path(cfg)
  local st = vim.uv.fs_stat(path)
  if not st then
    health.error(('database not found: %s (%s)'):format(path, from), {
      'Index your repos: `crossnav index --discover ~/src`',
      "or point setup{ db = '/path/to/index.db' } (or $CROSSNAV_DB) at a shared index",
    })
    return path
  end
  local mtime = st.mtime.sec
  local wal = vim.uv.fs_stat(path .. '-wal')
  if wal and wal.size > 0 and wal.mtime.sec > mtime then
    mtime = wal.mtime.sec
  end
  local secs = os.time() - mtime
  health.ok(('database: %s (%s, %s; written %s)'):format(path, from, size(st.size), age(secs)))
  if secs > 7 * 86400 then
    health.warn(('the index is %s old'):format(age(secs)), { 'Run :CrossnavReindex or `crossnav index ...`' })
  end
  return path
end

--- The filetypes the client attaches to, and for which of them crossOnly drops the file's own repo.
local function check_languages(cfg)
  local crossnav = require('crossnav')
  local fts = type(cfg.filetypes) == 'table' and cfg.filetypes or {}
  if #fts == 0 then
    health.warn('no filetypes configured: the client attaches to no buffer', { 'setup{ filetypes = { ... } }' })
  else
    health.info('filetypes: ' .. table.concat(fts, ', '))
  end
  local co = (cfg.init_options or {}).crossOnly
  if co == nil or co == false then
    health.info("cross_only: off: definition and references list every repository, the file's own too")
  elseif co == true then
    health.info("cross_only: on for every language: definition and references list only other repositories")
  elseif vim.islist(co) then
    local names = vim.tbl_map(tostring, co)
    health.info(('cross_only: on for %s (only other repositories), off for the other languages'):format(
      table.concat(names, ', ')))
    local unknown = vim.tbl_filter(function(name)
      return not vim.tbl_contains(crossnav.languages, name)
    end, names)
    if #unknown > 0 then
      health.warn(('cross_only: not crossnav language names: %s (the server drops them)'):format(table.concat(unknown, ', ')),
        { 'language names: ' .. table.concat(crossnav.languages, ', ') })
    end
  else
    health.warn(('cross_only = %s is not true, false or a list of languages: the server ignores it'):format(vim.inspect(co)),
      { "cross_only = true, or e.g. cross_only = { 'python', 'go' }" })
  end
end

local function check_client(path)
  local clients = vim.lsp.get_clients({ name = 'crossnav' })
  if #clients == 0 then
    health.info('no crossnav client is running: open a file of one of the filetypes above to check the index contents')
    return
  end
  local client = clients[1]
  local bufnr = next(client.attached_buffers or {})
  health.ok(('client running (id %d, %d buffer%s attached)'):format(client.id, vim.tbl_count(client.attached_buffers or {}),
    vim.tbl_count(client.attached_buffers or {}) == 1 and '' or 's'))
  local st, err = require('crossnav').execute_sync('crossnav.status', {}, 5000, bufnr)
  if not st then
    health.error('crossnav.status failed: ' .. tostring(err))
    return
  end
  if st.error and st.error ~= vim.NIL then
    health.error(('the server cannot read %s: %s'):format(st.db, st.error))
    return
  end
  local repos = st.repos or {}
  if #repos == 0 then
    health.warn(('the index %s has no repos'):format(st.db), { '`crossnav index --discover ~/src`' })
  else
    health.ok(('index %s: %d repo%s (%s)'):format(st.db, #repos, #repos == 1 and '' or 's',
      table.concat(vim.tbl_map(function(r)
        return r.name
      end, repos), ', ')))
  end
  if path and vim.fs.normalize(st.db) ~= vim.fs.normalize(path) then
    health.info(('the running server reads %s'):format(st.db))
  end
  for _, r in ipairs(repos) do
    if r.stale then
      health.warn(('repo %s is stale: indexed at %s, checked out %s'):format(
        r.name, (r.head or '?'):sub(1, 10), (r.currentHead or '?'):sub(1, 10)), { 'Run :CrossnavReindex ' .. r.name })
    end
  end
end

function M.check()
  health.start('crossnav')
  if vim.fn.has('nvim-0.10') ~= 1 then
    health.error('Neovim 0.10 or newer is required')
    return
  end
  local crossnav = require('crossnav')
  local enabled = vim.lsp.is_enabled and vim.lsp.is_enabled('crossnav')
    or (vim.lsp._enabled_configs ~= nil and vim.lsp._enabled_configs['crossnav'] ~= nil)
  local version = tostring(vim.version())
  if crossnav.method == 'start' then
    health.ok(('Neovim %s; setup() starts the client with vim.lsp.start'):format(version))
  elseif enabled then
    health.ok(('Neovim %s; the client is enabled with vim.lsp.enable'):format(version))
  elseif #vim.lsp.get_clients({ name = 'crossnav' }) > 0 then
    health.ok(('Neovim %s; a crossnav client was started by other means'):format(version))
  else
    health.warn(('Neovim %s; crossnav is not set up'):format(version), {
      vim.lsp.config and "vim.lsp.enable('crossnav')" or "require('crossnav').setup{}",
    })
  end
  local cfg = effective_config()
  check_server(cfg)
  check_languages(cfg)
  local path = check_database(cfg)
  check_client(path)
  local pickers = {}
  for _, m in ipairs({ 'telescope', 'fzf-lua' }) do
    if pcall(require, m) then
      pickers[#pickers + 1] = m
    end
  end
  health.info(':CrossnavSearch! picker: ' .. (#pickers > 0 and table.concat(pickers, ', ') or 'vim.ui.select'))
end

return M
