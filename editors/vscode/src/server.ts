/** Starting, restarting and talking to `crossnav serve` through vscode-languageclient. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  type ErrorHandler,
  ExecuteCommandRequest,
  LanguageClient,
  type LanguageClientOptions,
  RevealOutputChannelOn,
  type ServerOptions,
  State,
} from 'vscode-languageclient/node';
import {
  effectiveCrossOnly,
  expandPath,
  LANGUAGE_IDS,
  pythonImportError,
  resolveServerCommand,
  type FileProbe,
  type ServerCommand,
} from './logic';

export const CLIENT_ID = 'crossnav';

/** Settings whose change needs a new server process (initializationOptions and the command line). */
export const RESTART_SETTINGS = ['crossnav.db', 'crossnav.server.path', 'crossnav.server.python',
  'crossnav.maxReferences', 'crossnav.maxSymbols', 'crossnav.jediBudget'];

const fileProbe: FileProbe = {
  exists: (f) => fs.existsSync(f),
  isExecutable: (f) => {
    try {
      fs.accessSync(f, fs.constants.X_OK);
      return fs.statSync(f).isFile();
    } catch {
      return false;
    }
  },
};

export function config(): vscode.WorkspaceConfiguration {
  return vscode.workspace.getConfiguration('crossnav');
}

function firstFolder(): string | undefined {
  return vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
}

export function dbSetting(): string {
  return expandPath(config().get<string>('db', ''), os.homedir(), firstFolder(), process.env);
}

export function crossOnly(): boolean | string[] {
  return effectiveCrossOnly(config().get('crossOnly', 'auto'), (id) => vscode.extensions.getExtension(id) !== undefined);
}

/** Resolve the command, and for a configured interpreter check that it can import crossnav.
 *  Returns the command or the message telling the user what to do. */
export async function findServer(): Promise<ServerCommand | { error: string }> {
  const home = os.homedir();
  const folder = firstFolder();
  const resolved = resolveServerCommand({
    serverPath: expandPath(config().get<string>('server.path', ''), home, folder, process.env),
    python: expandPath(config().get<string>('server.python', ''), home, folder, process.env),
    db: dbSetting(),
  }, process.env, fileProbe);
  if ('error' in resolved || !resolved.needsImportCheck) {
    return resolved;
  }
  const problem = await new Promise<string | undefined>((resolve) => {
    execFile(resolved.command, ['-c', 'import crossnav.index.cli, crossnav.server.server'], { timeout: 30_000 },
      (err, _stdout, stderr) => resolve(err ? (stderr || err.message) : undefined));
  });
  return problem === undefined ? resolved : { error: pythonImportError(resolved.command, problem) };
}

export function initializationOptions(): Record<string, unknown> {
  const c = config();
  const opts: Record<string, unknown> = {
    crossOnly: crossOnly(),
    maxReferences: c.get<number>('maxReferences', 1000),
    maxSymbols: c.get<number>('maxSymbols', 100),
    jediBudget: c.get<number>('jediBudget', 2),
  };
  const db = dbSetting();
  if (db) {
    opts.db = db;
  }
  return opts;
}

/** The client for `cmd`. The extension spawns the server itself (`onSpawn` gets the process), so
 *  that it can end a server that never answered `initialize`: the client only stops running ones. */
export function createClient(cmd: ServerCommand, output: vscode.OutputChannel,
  onSpawn: (p: ChildProcess) => void, isCurrent: () => boolean): LanguageClient {
  const crashes: number[] = [];
  const errorHandler: ErrorHandler = {
    error: (_error, _message, count) => ({ action: (count ?? 0) <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown }),
    // like the default (restart, unless 5 crashes in 3 minutes), but never for a client this
    // extension already replaced or stopped
    closed: () => {
      if (!isCurrent()) {
        return { action: CloseAction.DoNotRestart, handled: true };
      }
      const now = Date.now();
      crashes.push(now);
      while (crashes.length && crashes[0] < now - 180_000) {
        crashes.shift();
      }
      if (crashes.length >= 5) {
        return { action: CloseAction.DoNotRestart, message: 'The crossnav server stopped 5 times in 3 minutes and will not be restarted. See the "crossnav" output.' };
      }
      return { action: CloseAction.Restart, handled: true };
    },
  };
  const serverOptions: ServerOptions = () => {
    const proc = spawn(cmd.command, cmd.args, { env: process.env, stdio: 'pipe' });
    proc.on('error', (e) => output.appendLine(`[crossnav] ${cmd.command}: ${e.message}`));
    proc.on('exit', (code, signal) => output.appendLine(`[crossnav] server exited (${signal ?? `code ${code}`})`));
    onSpawn(proc);
    return Promise.resolve(proc);
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGE_IDS.map((language) => ({ scheme: 'file', language })),
    outputChannel: output,
    traceOutputChannel: output,
    errorHandler,
    revealOutputChannelOn: RevealOutputChannelOn.Never, // failures get the extension's own messages
    initializationOptions: initializationOptions(),
  };
  const client = new LanguageClient(CLIENT_ID, 'crossnav', serverOptions, clientOptions);
  // The server advertises its commands (crossnav.status, crossnav.reindex, ...) as
  // executeCommandProvider for other editors. vscode-languageclient would register each one as a
  // VS Code command, which clashes with this extension's own `crossnav.reindex` command; the
  // extension calls them with `executeServerCommand` instead.
  const features = client as unknown as { getFeature(method: string): { initialize(): void } | undefined };
  const exec = features.getFeature(ExecuteCommandRequest.method);
  if (exec) {
    exec.initialize = () => undefined;
  }
  return client;
}

/** The running client; `undefined` until started or after a failure to find the server. */
export class ServerHandle {
  client: LanguageClient | undefined;
  private process: ChildProcess | undefined;
  /** Bumped by every start and stop, so that a slower, older start knows it was superseded. */
  private generation = 0;
  private readonly changed = new vscode.EventEmitter<LanguageClient | undefined>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly output: vscode.OutputChannel) {}

  get running(): boolean {
    return this.client?.state === State.Running;
  }

  /** Find and start the server: true when running, false when it could not be started (the user
   *  was told), undefined when a newer start or a stop superseded this one. */
  async start(): Promise<boolean | undefined> {
    const generation = ++this.generation;
    const found = await findServer();
    if (generation !== this.generation) {
      return undefined;
    }
    if ('error' in found) {
      this.output.appendLine(`[crossnav] ${found.error}`);
      this.changed.fire(undefined);
      void showServerNotFound(found.error, this.output);
      return false;
    }
    this.output.appendLine(`[crossnav] starting ${found.command} ${found.args.join(' ')} (from ${found.source})`);
    const client: LanguageClient = createClient(found, this.output, (p) => {
      if (this.client === client) {
        this.process = p;
      }
    }, () => this.client === client);
    this.client = client;
    try {
      await client.start();
    } catch (e) {
      if (this.client !== client) {
        return undefined; // stopped meanwhile (settings changed, restart): a newer start reports
      }
      this.output.appendLine(`[crossnav] the server did not start: ${String(e)}`);
      void vscode.window.showErrorMessage(`crossnav: the language server (${found.command}) did not start: ${String(e)}`,
        'Show Output').then((b) => b && this.output.show());
      this.changed.fire(undefined);
      return false;
    }
    if (this.client !== client) {
      return undefined;
    }
    this.changed.fire(client);
    return true;
  }

  async stop(): Promise<void> {
    this.generation += 1;
    const client = this.client;
    const proc = this.process;
    this.client = undefined;
    this.process = undefined;
    if (client?.state === State.Running) {
      try {
        await client.stop(5000);
      } catch (e) {
        this.output.appendLine(`[crossnav] stopping the server: ${String(e)}`);
      }
    }
    // A server that never answered (or ignored shutdown/exit) is ended here.
    if (proc && proc.exitCode === null && proc.signalCode === null) {
      this.output.appendLine('[crossnav] ending the server process');
      proc.kill('SIGTERM');
      const killed = setTimeout(() => proc.kill('SIGKILL'), 2000);
      proc.once('exit', () => clearTimeout(killed));
    }
  }

  /** Send `{crossnav: {crossOnly}}` after the setting (or the installed extensions) changed. */
  async sendConfiguration(): Promise<void> {
    if (this.running && this.client) {
      await this.client.sendNotification('workspace/didChangeConfiguration', { settings: { crossnav: { crossOnly: crossOnly() } } });
    }
  }

  /** Run one of the server's `workspace/executeCommand` commands. */
  async command<T>(command: string, args: unknown, token?: vscode.CancellationToken): Promise<T> {
    if (!this.client || !this.running) {
      throw new Error(`the crossnav language server is ${this.client ? 'not answering yet' : 'not running'} (see the "crossnav" output)`);
    }
    return this.client.sendRequest(ExecuteCommandRequest.type, { command, arguments: [args] }, token) as Promise<T>;
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export async function showServerNotFound(message: string, output: vscode.OutputChannel): Promise<void> {
  const choice = await vscode.window.showErrorMessage(`crossnav: ${message}`, 'Open Settings', 'Show Output');
  if (choice === 'Open Settings') {
    await vscode.commands.executeCommand('workbench.action.openSettings', 'crossnav.server');
  } else if (choice === 'Show Output') {
    output.show();
  }
}
