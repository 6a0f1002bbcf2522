import { existsSync, readFileSync } from 'node:fs';
import type { MockServer } from '../../src/target/mock-server.js';
import { runCli, writeFile } from '../helpers/cli.js';

/** Shared by the security tests (issue 21): a small stored run made through the CLI against a loopback server. */

export interface StoredRun {
  db: string;
  runId: string;
  stdout: string;
  stderr: string;
}

/** Runs a config through the built CLI; the run id comes from its JSON summary. */
export async function storeRun(
  dir: string,
  name: string,
  yaml: string,
  opts: { db?: string; env?: Record<string, string>; json?: boolean } = {},
): Promise<StoredRun> {
  const cfg = writeFile(dir, `${name}.yaml`, yaml);
  const db = opts.db ?? `${dir}/${name}.db`;
  const res = await runCli(
    ['run', cfg, '--db', db, '--no-progress', ...(opts.json === false ? [] : ['--json'])],
    {
      env: opts.env,
    },
  );
  const runId = /(run-[0-9a-f]{12})/.exec(res.stdout + res.stderr)?.[1];
  if (!runId) throw new Error(`no run id (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
  return { db, runId, stdout: res.stdout, stderr: res.stderr };
}

/** A plain config: goals.jsonl x plain x one OpenAI-compatible target x keyword. */
export function plainConfig(
  server: MockServer,
  extra: { dataset?: string; target?: string; top?: string } = {},
): string {
  return (
    `${extra.top ?? ''}dataset: {path: ${extra.dataset ?? 'goals.jsonl'}}\n` +
    'attacks: [plain]\n' +
    `targets:\n  - id: openai:m\n    base_url: ${server.url}\n    retries: 0\n${extra.target ?? ''}` +
    'judges: [keyword]\n'
  );
}

/** The store's bytes as SQLite keeps them on disk: the database file and its write-ahead log. */
export function storeBytes(db: string): Buffer {
  return Buffer.concat([db, `${db}-wal`].filter((f) => existsSync(f)).map((f) => readFileSync(f)));
}
