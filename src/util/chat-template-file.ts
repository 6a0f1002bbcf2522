import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { InputError } from '../errors.js';

/**
 * transformers (since 4.50) saves the chat template as `chat_template.jinja` beside the tokenizer and prefers
 * it over tokenizer_config.json's `chat_template` when loading; many Hub models ship only the file.
 */
export function readJinjaTemplate(folder: string): string | undefined {
  const file = path.join(folder, 'chat_template.jinja');
  if (!existsSync(file)) return undefined;
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read chat template: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, {
      file,
    });
  }
}
