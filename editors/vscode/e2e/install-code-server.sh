#!/usr/bin/env bash
# Install code-server (the real VS Code workbench, served to a browser) from the npm registry into
# a cache folder, with the workarounds this offline-ish machine needs (see the recipe in the
# project's shared notes): no GitHub downloads (ripgrep comes from Debian), root installs, npx prompts.
# Prints the path of the code-server executable. Re-runs are instant once the marker exists.
set -euo pipefail
VER="${CODE_SERVER_VERSION:-4.100.3}"
CACHE="${CROSSNAV_E2E_CACHE:-$HOME/.cache/crossnav-vscode-e2e}"
DIR="$CACHE/code-server-$VER"
BIN="$DIR/node_modules/code-server/out/node/entry.js"
if [[ -f "$DIR/.complete" ]]; then echo "$DIR/node_modules/.bin/code-server"; exit 0; fi

command -v rg >/dev/null || { echo "install-code-server: ripgrep (rg) is required (apt-get install ripgrep)" >&2; exit 1; }
[[ -e /usr/include/gssapi/gssapi.h ]] || { echo "install-code-server: libkrb5-dev is required (apt-get install libkrb5-dev)" >&2; exit 1; }

rm -rf "$DIR"; mkdir -p "$DIR"; cd "$DIR"
export npm_config_unsafe_perm=true npm_config_yes=true npm_config_fund=false npm_config_audit=false
{
  echo '{"name":"crossnav-e2e-code-server","private":true}' > package.json
  npm install --no-save --ignore-scripts "code-server@$VER"
  npm rebuild argon2
  cd node_modules/code-server/lib/vscode
  npm install --omit=dev --ignore-scripts
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm rebuild --foreground-scripts
  # the rest of code-server's postinstall.sh
  ln -sfn node_modules node_modules.asar
  ln -sf code-linux.sh bin/remote-cli/code-server
  ln -sf browser-linux.sh bin/helpers/browser.sh
  (cd extensions && npm install --omit=dev)
} >&2
[[ -f "$BIN" ]] || { echo "install-code-server: $BIN missing after install" >&2; exit 1; }
touch "$DIR/.complete"
echo "$DIR/node_modules/.bin/code-server"
