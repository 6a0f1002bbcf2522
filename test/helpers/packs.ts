import path from 'node:path';
import { readStringField } from '../../src/dataset/records.js';
import { DATA_DIR } from './cli.js';

/** The `question` of every record of a `derta` pack test file (JSON Lines), in file order. */
export function dertaQuestions(file: string): string[] {
  return readStringField(path.join(DATA_DIR, 'derta', 'data', 'test', file), 'question', 'jsonl');
}
