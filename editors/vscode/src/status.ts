/** The status-bar item: index freshness ("crossnav: 5 repos · 2 h"), a warning when a checkout moved
 *  past its indexed commit, refreshed on a timer and after a reindex. */
import * as vscode from 'vscode';
import { statusView } from './logic';
import { COMMANDS, type StatusResult } from './protocol';
import { config, type ServerHandle } from './server';

export class StatusItem implements vscode.Disposable {
  readonly item: vscode.StatusBarItem;
  private timer: NodeJS.Timeout | undefined;
  last: StatusResult | undefined;

  constructor(private readonly server: ServerHandle) {
    this.item = vscode.window.createStatusBarItem('crossnav.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'crossnav index';
    this.item.command = 'crossnav.showStatus';
    this.starting();
    this.item.show();
    this.schedule();
  }

  starting(): void {
    this.item.text = '$(sync~spin) crossnav: starting';
    this.item.tooltip = 'crossnav: starting the language server';
    this.item.backgroundColor = undefined;
  }

  /** The server was started but has not answered `initialize` yet. */
  notAnswering(seconds: number): void {
    this.item.text = '$(warning) crossnav: server not answering';
    this.item.tooltip = `crossnav: the language server has not answered for ${seconds} s. See the "crossnav" output.`;
    this.item.command = 'crossnav.showOutput';
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
  }

  failed(message: string): void {
    this.item.text = '$(error) crossnav: server not running';
    this.item.tooltip = `crossnav: ${message}\nClick for details.`;
    this.item.command = 'crossnav.showOutput';
    this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
  }

  /** Restart the timer with the configured interval. */
  schedule(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
    const seconds = Math.max(5, config().get<number>('statusRefreshSeconds', 60));
    this.timer = setInterval(() => void this.refresh(), seconds * 1000);
  }

  async refresh(): Promise<StatusResult | undefined> {
    if (!this.server.running) {
      return undefined;
    }
    let status: StatusResult;
    try {
      status = await this.server.command<StatusResult>(COMMANDS.status, {});
    } catch (e) {
      this.failed(String(e));
      return undefined;
    }
    this.last = status;
    const view = statusView(status, new Date());
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.command = 'crossnav.showStatus';
    this.item.backgroundColor = view.level === 'ok' ? undefined
      : new vscode.ThemeColor(view.level === 'warning' ? 'statusBarItem.warningBackground' : 'statusBarItem.errorBackground');
    return status;
  }

  dispose(): void {
    if (this.timer) {
      clearInterval(this.timer);
    }
    this.item.dispose();
  }
}
