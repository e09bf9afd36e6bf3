/**
 * The real notification webhook (`src/cli/webhook.ts`) as a child process, as production runs it (`npm run webhook`),
 * so that the simulator in the bench process (WeChat: it signs, encrypts and sends every notification) never shares
 * an event loop with the webhook that verifies and signals them. Bench 5 ran both in one process until 2026-12-03:
 * in a burst of 2,000 notifications about 4,500 deliveries timed out inside that shared loop before the webhook saw
 * them, and were counted against the webhook.
 *
 * Its configuration is a variant of temporal-dev.yml: the bench's simulator keys (the stack file's merchant registry
 * reads its credentials there), a fixed port, its own outbox directory and orphan file, and the webhook settings the
 * bench passes. Temporal comes from the environment, the payload key ring too (bench/support/stack.ts sets it at
 * load). Its counters are read from its own /metrics, as an operator's Prometheus would.
 */
import path from 'node:path';
import { writeStackConfigVariant } from '../../src/config/stack-file';
import { BenchProgramProcess } from './program-process';

export interface WebhookProcessOptions {
  dir: string;
  keysDir: string;
  port: number;
  temporalAddress: string;
  namespace: string;
  /** More `webhook.*` settings (signalTimeoutMs, signalConcurrency, …), as in the stack file. */
  webhook?: Record<string, unknown>;
}

/** One sample of a Prometheus text exposition: metric name, labels, value. */
export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * Parses the Prometheus text format prom-client writes (`name{a="x",b="y"} 12`, comments skipped). Label values are
 * unescaped for `\"`, `\\` and `\n`, which is all the format allows.
 */
export function parsePrometheusText(text: string): MetricSample[] {
  const out: MetricSample[] = [];
  const line = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
  const label = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
  for (const row of text.split('\n')) {
    if (row.startsWith('#') || row.trim() === '') continue;
    const m = line.exec(row);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(label)) {
      labels[l[1]] = l[2].replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

export class BenchWebhookProcess {
  private readonly program: BenchProgramProcess;
  constructor(private readonly opts: WebhookProcessOptions) {
    this.program = new BenchProgramProcess('webhook', path.join(opts.dir, 'webhook.log'));
  }

  get pid(): number | undefined {
    return this.program.pid;
  }
  get url(): string {
    return `http://127.0.0.1:${this.opts.port}`;
  }
  get logFile(): string {
    return this.program.logFile;
  }

  /** Starts it and resolves once /healthz answers 200. */
  async start(): Promise<void> {
    const stackFile = path.join(this.opts.dir, 'webhook-stack.yml');
    const settings: Record<string, unknown> = {
      'simulator.keysDir': this.opts.keysDir,
      'webhook.host': '127.0.0.1',
      'webhook.port': this.opts.port,
      'webhook.publicBaseUrl': this.url,
      'webhook.logLevel': 'warn',
      'webhook.orphanLogPath': path.join(this.opts.dir, 'webhook-orphans.jsonl'),
      'webhook.outbox.dir': path.join(this.opts.dir, 'webhook-outbox'),
    };
    for (const [k, v] of Object.entries(this.opts.webhook ?? {})) settings[`webhook.${k}`] = v;
    writeStackConfigVariant(stackFile, settings);
    await this.program.start(
      {
        WXREFUND_STACK_CONFIG: stackFile,
        TEMPORAL_ADDRESS: this.opts.temporalAddress,
        TEMPORAL_NAMESPACE: this.opts.namespace,
      },
      `${this.url}/healthz`,
    );
  }

  /** Its /metrics, parsed. */
  async metrics(): Promise<MetricSample[]> {
    const res = await fetch(`${this.url}/metrics`);
    if (res.status !== 200) throw new Error(`webhook /metrics answered ${res.status}`);
    return parsePrometheusText(await res.text());
  }

  /** SIGTERM (notifications in flight finish, the relay stops), SIGKILL after 10 s. */
  stop(): Promise<void> {
    return this.program.stop();
  }
}
