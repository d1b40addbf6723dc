-- Loaded by Neovim when editors/nvim is on 'runtimepath'. Registers :Letta and the letta-memory://
-- autocmds; the client starts on require("letta").setup(), or on first use with the defaults.
if vim.g.loaded_letta or vim.fn.has('nvim-0.11') ~= 1 then
  return
end
vim.g.loaded_letta = true
require('letta').register()
