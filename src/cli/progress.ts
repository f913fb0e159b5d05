/** Progress reporting: a redrawn bar on a TTY, occasional plain lines otherwise, nothing in --json mode. */

export interface ProgressOptions {
  /** suppress all output (--json) */
  quiet?: boolean;
  stream?: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown };
  width?: number;
}

export class Progress {
  private done = 0;
  private lastPct = -1;
  private readonly start = performance.now();
  private readonly stream: { isTTY?: boolean; write(s: string): unknown };
  private readonly tty: boolean;
  private finished = false;
  private lastDraw = 0;

  constructor(
    readonly total: number,
    readonly label: string,
    private readonly opts: ProgressOptions = {},
  ) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = !!this.stream.isTTY;
  }

  tick(n = 1): void {
    this.done = Math.min(this.total, this.done + n);
    if (this.opts.quiet) return;
    const pct = this.total ? Math.floor((100 * this.done) / this.total) : 100;
    if (this.tty) {
      const now = performance.now();
      if (now - this.lastDraw < 50 && this.done < this.total) return;
      this.lastDraw = now;
      const w = this.opts.width ?? 30;
      const filled = Math.round((w * pct) / 100);
      const secs = (now - this.start) / 1000;
      const rate = secs > 0 ? this.done / secs : 0;
      this.stream.write(`\r${this.label} [${'#'.repeat(filled)}${'.'.repeat(w - filled)}] ${pct}% ${this.done}/${this.total} ${rate.toFixed(0)}/s `);
    } else if (Math.floor(pct / 25) > Math.floor(this.lastPct / 25) || this.lastPct < 0) {
      this.stream.write(`${this.label}: ${this.done}/${this.total} (${pct}%)\n`);
    }
    this.lastPct = pct;
  }

  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.opts.quiet) return;
    if (this.tty) this.stream.write('\n');
    else if (this.lastPct < 100) this.stream.write(`${this.label}: ${this.done}/${this.total} (done)\n`);
  }
}
