/** crossnav for VS Code: starts `crossnav serve` for the languages it indexes, and adds cross-repository
 *  search, owners, code-host links, reindexing and an index-freshness status item. */
import * as vscode from 'vscode';
import { State } from 'vscode-languageclient/node';
import { Commands } from './commands';
import { RESTART_SETTINGS, ServerHandle } from './server';
import { StatusItem } from './status';

let server: ServerHandle | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const output = vscode.window.createOutputChannel('crossnav');
  server = new ServerHandle(output);
  const status = new StatusItem(server);
  const commands = new Commands(server, status, output);
  context.subscriptions.push(output, server, status, ...commands.register(),
    vscode.commands.registerCommand('crossnav.restartServer', async () => {
      if (server) {
        await server.stop();
        await startAndReport(server, status);
      }
    }));

  let stateListener: vscode.Disposable | undefined;
  context.subscriptions.push(server.onDidChange((client) => {
    stateListener?.dispose();
    stateListener = client?.onDidChangeState((e) => {
      if (e.newState === State.Stopped && server?.client === client) {
        status.failed('the language server stopped (see the "crossnav" output)');
      } else if (e.newState === State.Running) {
        void status.refresh();
      }
    });
  }), { dispose: () => { stateListener?.dispose(); } });

  context.subscriptions.push(vscode.workspace.onDidChangeConfiguration(async (e) => {
    if (!server) {
      return;
    }
    if (RESTART_SETTINGS.some((s) => e.affectsConfiguration(s))) {
      await server.stop();
      await startAndReport(server, status);
      return;
    }
    if (e.affectsConfiguration('crossnav.crossOnly')) {
      await server.sendConfiguration();
    }
    if (e.affectsConfiguration('crossnav.statusRefreshSeconds')) {
      status.schedule();
    }
  }));
  // `crossOnly: auto` depends on which languages' own language server extensions are installed.
  context.subscriptions.push(vscode.extensions.onDidChange(() => void server?.sendConfiguration()));

  await startAndReport(server, status);
}

const SLOW_START_SECONDS = 20;

async function startAndReport(handle: ServerHandle, status: StatusItem): Promise<void> {
  status.starting();
  const slow = setTimeout(() => {
    if (!handle.running) {
      status.notAnswering(SLOW_START_SECONDS);
    }
  }, SLOW_START_SECONDS * 1000);
  try {
    const started = await handle.start();
    if (started) {
      await status.refresh();
    } else if (started === false) {
      status.failed('the language server could not be started');
    }
  } finally {
    clearTimeout(slow);
  }
}

export async function deactivate(): Promise<void> {
  await server?.stop();
  server = undefined;
}
