import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { RuntimeFailure } from '../errors.js';

/**
 * A model served by the trainer's OpenAI-compatible server (`python -m refusenik_trainer serve`) on a free
 * loopback port, for the loop's attacks. The server prints one JSON line saying where it listens.
 */
export interface ServedModel {
  url: string;
  name: string;
  close(): Promise<void>;
}

export interface ServeOptions {
  python: string;
  /** A model folder, or a LoRA adapter folder (then `baseModel`). */
  model: string;
  baseModel?: string;
  name: string;
  maxNewTokens: number;
  precision: string;
  /** A backtracking model's reset token: the server answers with the text after the last one. */
  resetToken?: string;
  /** How long loading may take. */
  timeoutMs?: number;
}

export async function serveModel(o: ServeOptions): Promise<ServedModel> {
  const args = ['-m', 'refusenik_trainer', 'serve', '--model', o.model, '--name', o.name, '--port', '0'];
  if (o.baseModel) args.push('--base-model', o.baseModel);
  if (o.resetToken) args.push('--reset-token', o.resetToken);
  // Its stdin is our pipe: when this process ends, even by SIGKILL, the pipe closes and the server exits.
  args.push('--max-new-tokens', String(o.maxNewTokens), '--precision', o.precision, '--exit-with-stdin');
  const child = spawn(o.python, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new RuntimeFailure(`the model server for ${o.model} did not start in time: ${stderr.trim()}`));
    }, o.timeoutMs ?? 300_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new RuntimeFailure(`cannot start '${o.python}': ${err.message}`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(
        new RuntimeFailure(`the model server for ${o.model} exited (${code}): ${stderr.trim().slice(-1500)}`),
      );
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      try {
        const e = JSON.parse(line) as { event?: string; url?: string };
        if (e.event === 'listening' && typeof e.url === 'string') {
          clearTimeout(timer);
          resolve(e.url);
        }
      } catch {
        // not the announcement
      }
    });
  });
  child.removeAllListeners('exit');
  return {
    url: url.replace(/\/$/, '').replace(/(\/v1)?$/, '/v1'),
    name: o.name,
    close: () => stopChild(child),
  };
}

/** Stops a server process: SIGTERM, then SIGKILL after 5 s. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
