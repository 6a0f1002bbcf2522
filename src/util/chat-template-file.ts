import { existsSync } from 'node:fs';
import path from 'node:path';
import { readInputText } from './input-text.js';

/**
 * transformers (since 4.50) saves the chat template as `chat_template.jinja` beside the tokenizer and prefers
 * it over tokenizer_config.json's `chat_template` when loading; many Hub models ship only the file.
 */
export function readJinjaTemplate(folder: string): string | undefined {
  const file = path.join(folder, 'chat_template.jinja');
  if (!existsSync(file)) return undefined;
  return readInputText(file, 'chat template');
}
