import type { Token } from './lexer.js';
import { PythonExtractError, tokenizeModule } from './extract.js';
import { evalStringLiteral, PythonSyntaxError } from './strings.js';

/**
 * A statement view of a Python module, for prompt builders whose prompts are string literals spread over
 * branches and `.format(...)` calls (FlipAttack's `flip_attack.py`): every logical line with the headers of
 * the compound statements around it (`class`, `def`, `if`, `elif`, `else`, ...), so a reader can ask for
 * "the literal assigned to `self.mode_prompt` under the `elif` that names FCW". Nothing is evaluated but
 * string literals; a reader checks the shape of what it reads and names the file and line when upstream
 * changed.
 */

export interface PyBlock {
  /** The header's tokens without its closing `:`. */
  header: readonly Token[];
  line: number;
}

export interface PyStatement {
  tokens: readonly Token[];
  line: number;
  /** The compound statements this one is inside, outermost first. */
  blocks: readonly PyBlock[];
}

/** Every logical line of a module, with the headers of its enclosing blocks. */
export function readStatements(source: string, file: string): PyStatement[] {
  const tokens = tokenizeModule(source, file);
  const out: PyStatement[] = [];
  const stack: PyBlock[] = [];
  let pending: PyBlock | undefined;
  let line: Token[] = [];
  for (const t of tokens) {
    if (t.type === 'indent') {
      // An indented block follows a header; an indent anywhere else is a syntax error upstream.
      if (!pending) throw new PythonExtractError('unexpected indent', file, t.line);
      stack.push(pending);
      pending = undefined;
    } else if (t.type === 'dedent') {
      stack.pop();
    } else if (t.type === 'newline' || t.type === 'eof') {
      if (line.length) {
        const first = line[0] as Token;
        out.push({ tokens: line, line: first.line, blocks: [...stack] });
        const last = line[line.length - 1] as Token;
        pending =
          last.type === 'op' && last.value === ':'
            ? { header: line.slice(0, -1), line: first.line }
            : undefined;
      }
      line = [];
    } else line.push(t);
  }
  return out;
}

/**
 * Tokens as compact source text: a space only between two names or numbers (`not lang_gpt`,
 * `self.demo("x",self.flip_mode)`), so shapes can be compared as strings.
 */
export function tokenText(tokens: readonly Token[]): string {
  let out = '';
  let prev: Token | undefined;
  for (const t of tokens) {
    const word = (x: Token | undefined) => x !== undefined && (x.type === 'name' || x.type === 'number');
    if (word(prev) && word(t)) out += ' ';
    out += t.value;
    prev = t;
  }
  return out;
}

/** The arguments of the call whose `(` is at `open`: top-level comma-separated token lists. */
export function callArgs(tokens: readonly Token[], open: number): Token[][] {
  const args: Token[][] = [];
  let cur: Token[] = [];
  let depth = 0;
  for (let i = open + 1; i < tokens.length; i++) {
    const t = tokens[i] as Token;
    if (t.type === 'op' && '([{'.includes(t.value)) depth++;
    if (t.type === 'op' && ')]}'.includes(t.value)) {
      if (depth === 0) {
        if (cur.length) args.push(cur);
        return args;
      }
      depth--;
    }
    if (depth === 0 && t.type === 'op' && t.value === ',') {
      args.push(cur);
      cur = [];
    } else cur.push(t);
  }
  throw new PythonSyntaxError('unclosed call');
}

/** The value of adjacent string literal tokens (`"a" "b"`), or undefined when `tokens` is anything else. */
export function literalValue(tokens: readonly Token[], file: string): string | undefined {
  if (!tokens.length || tokens.some((t) => t.type !== 'string')) return undefined;
  return tokens.map((t) => evalLiteral(t, file)).join('');
}

/** Every run of adjacent string literals in a statement, in order, each as one value. */
export function literalRuns(tokens: readonly Token[], file: string): string[] {
  const runs: string[] = [];
  let cur: string | undefined;
  for (const t of tokens) {
    if (t.type === 'string') cur = (cur ?? '') + evalLiteral(t, file);
    else if (cur !== undefined) {
      runs.push(cur);
      cur = undefined;
    }
  }
  if (cur !== undefined) runs.push(cur);
  return runs;
}

function evalLiteral(t: Token, file: string): string {
  try {
    return evalStringLiteral(t.value);
  } catch (err) {
    if (err instanceof PythonSyntaxError) throw new PythonExtractError(err.message, file, t.line);
    throw err;
  }
}

/**
 * The string assigned to `name` at module level (`fn` undefined) or at the top of function `fn`: exactly one
 * such assignment, whose value is string literals only; anything else is an error naming the file and line.
 */
export function assignedString(
  statements: readonly PyStatement[],
  name: string,
  file: string,
  fn?: string,
): string {
  const found = statements.filter((s) => {
    const [head, eq] = s.tokens;
    if (head?.type !== 'name' || head.value !== name || eq?.type !== 'op' || eq.value !== '=') return false;
    if (fn === undefined) return s.blocks.length === 0;
    const [def, ...rest] = s.blocks;
    return rest.length === 0 && def !== undefined && tokenText(def.header).startsWith(`def ${fn}(`);
  });
  const where = fn === undefined ? 'at module level' : `in ${fn}()`;
  if (found.length !== 1) {
    throw new PythonExtractError(
      `expected one assignment to ${name} ${where}, found ${found.length}`,
      file,
      found[1]?.line,
    );
  }
  const s = found[0] as PyStatement;
  const value = literalValue(s.tokens.slice(2), file);
  if (value === undefined)
    throw new PythonExtractError(`${name} ${where} is not assigned string literals only`, file, s.line);
  return value;
}
