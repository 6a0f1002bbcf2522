import { readFileSync } from 'node:fs';
import path from 'node:path';
import { DATA_DIR } from './cli.js';

/** The `question` of every record of a `derta` pack test file (JSON Lines), in file order. */
export function dertaQuestions(file: string): string[] {
  return readFileSync(path.join(DATA_DIR, 'derta', 'data', 'test', file), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => (JSON.parse(l) as { question: string }).question);
}
