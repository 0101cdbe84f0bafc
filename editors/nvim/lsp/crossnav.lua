-- Config for `vim.lsp.enable('crossnav')` (Neovim 0.11+).
--
-- Settings come from `vim.g.crossnav` (or `require('crossnav').setup{}`), e.g.
--   vim.g.crossnav = { db = '~/shared/index.db', cross_only = true }
-- and can be overridden as usual with `vim.lsp.config('crossnav', { ... })`.
return require('crossnav').lsp_config()
