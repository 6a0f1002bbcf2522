import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A loopback OpenAI chat-completions server that holds every request until the test releases it: the test
 * sees how many requests each replica holds at any moment (no timing involved).
 */
export class GatedServer {
  readonly held: { prompt: string; answer: () => void }[] = [];
  received = 0;
  private server: Server | undefined;
  private waiters: { n: number; resolve: () => void }[] = [];

  get url(): string {
    const addr = this.server?.address() as AddressInfo | null;
    if (!addr) throw new Error('gated server not started');
    return `http://127.0.0.1:${addr.port}/v1`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', () => resolve()));
    return this;
  }

  /** Resolves once `n` requests in all have arrived. */
  until(n: number): Promise<void> {
    if (this.received >= n) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ n, resolve }));
  }

  /** Answers every request held now. */
  releaseAll(): void {
    for (const h of this.held.splice(0)) h.answer();
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.releaseAll();
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const parts: Buffer[] = [];
    for await (const c of req) parts.push(c as Buffer);
    const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as {
      messages?: { role: string; content: string }[];
    };
    const prompt = body.messages?.at(-1)?.content ?? '';
    this.held.push({
      prompt,
      answer: () => {
        const text = JSON.stringify({
          id: 'chatcmpl-gated',
          object: 'chat.completion',
          model: 'gated',
          choices: [
            {
              index: 0,
              message: { role: 'assistant', content: `answer to ${prompt}` },
              finish_reason: 'stop',
            },
          ],
          usage: { prompt_tokens: 1, completion_tokens: 3 },
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    });
    this.received++;
    for (const w of this.waiters.filter((x) => this.received >= x.n)) w.resolve();
    this.waiters = this.waiters.filter((x) => this.received < x.n);
  }
}

/** A JSON summary printed last on stdout. */
export function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
}
