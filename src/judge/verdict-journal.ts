import { appendFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import type { ResponseRecord } from '../dataset/responses.js';
import type { Verdict } from '../types.js';
import { canonicalJson, sha256 } from '../util/hash.js';
import { redact } from '../util/secrets.js';
import type { Judge } from './judge.js';

/**
 * `refusenik judge --out F` keeps the verdicts it has paid for: each one is appended to `F.partial` as it
 * arrives (one JSON line, keyed by the judge's configuration and the record's content), and a re-run of
 * the same command after a kill takes them from there instead of asking the judge model again. The final
 * file is written whole at the end and the journal removed. Failed verdicts are not kept (they are retried).
 */
export class VerdictJournal {
  readonly file: string;
  private readonly known = new Map<string, Verdict>();
  private readonly judgeKey: string;

  constructor(out: string, judge: Judge) {
    this.file = `${out}.partial`;
    this.judgeKey = canonicalJson({ name: judge.name, id: judge.id, options: judge.options });
    if (!existsSync(this.file)) return;
    for (const line of readFileSync(this.file, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const entry = JSON.parse(line) as { key?: unknown; verdict?: Verdict };
        if (typeof entry.key === 'string' && entry.verdict) this.known.set(entry.key, entry.verdict);
      } catch {
        // the last line of a killed write may be cut: it is simply asked again
      }
    }
  }

  /** How many verdicts an earlier, interrupted run left. */
  get size(): number {
    return this.known.size;
  }

  key(rec: ResponseRecord): string {
    return sha256(JSON.stringify([this.judgeKey, rec.index, rec.goal, rec.prompt, rec.response]));
  }

  get(rec: ResponseRecord): Verdict | undefined {
    return this.known.get(this.key(rec));
  }

  add(rec: ResponseRecord, v: Verdict): void {
    if (v.error) return;
    // A judge model may echo a key or header value: the journal is redacted like the store.
    appendFileSync(this.file, `${redact(JSON.stringify({ key: this.key(rec), verdict: v }))}\n`);
  }

  remove(): void {
    rmSync(this.file, { force: true });
  }
}
