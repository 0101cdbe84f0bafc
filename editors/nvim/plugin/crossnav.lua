-- crossnav: cross-repository navigation (see :help crossnav).
-- Deliberately tiny: the Lua modules load only when a crossnav client attaches or setup() is called.
if vim.g.loaded_crossnav then
  return
end
vim.g.loaded_crossnav = 1

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('crossnav.attach', { clear = true }),
  desc = 'crossnav: buffer-local commands',
  callback = function(ev)
    local client = vim.lsp.get_client_by_id(ev.data.client_id)
    if client and client.name == 'crossnav' then
      require('crossnav').on_attach(client, ev.buf)
    end
  end,
})
