import { readFileSync } from 'node:fs';
import { InputError } from '../errors.js';

/**
 * A UTF-8 text file the user named (a rubric, a chat template). One that cannot be read is an InputError
 * `cannot read <what>: <code>` naming the file, and the config field when one is given.
 */
export function readInputText(file: string, what: string, field?: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new InputError(`cannot read${what ? ` ${what}` : ''}: ${code}`, {
      file,
      ...(field !== undefined ? { field } : {}),
    });
  }
}
