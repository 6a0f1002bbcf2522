import { tokenize, LexError, type Token } from './lexer.js';
import { evalStringLiteral, PythonSyntaxError } from './strings.js';

/**
 * Evaluates the string-building functions of a Python module without running Python. A function is "called"
 * by executing its body, which may only consist of `name = <expr>` and `return <expr>` statements (plus
 * docstrings and `pass`); expressions may be string literals (implicitly concatenated, f-strings included),
 * names, `+`, attribute access on a class (`self.method`, `cls.method`), calls and integers. That covers how
 * upstream repositories hold their prompts (methods returning literals, f-strings calling sibling methods)
 * while refusing, with the file and line, anything it does not understand.
 */

export class PythonEvalError extends Error {
  constructor(message: string, file: string, line?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${message}`);
    this.name = 'PythonEvalError';
  }
}

/** One logical line and, for compound statements, its indented suite. */
interface Stmt {
  tokens: Token[];
  body: Stmt[];
}

interface Param {
  name: string;
  /** Tokens of the default value, evaluated only when the argument is left out. */
  defaultTokens?: Token[];
}

interface FunctionDef {
  kind: 'function';
  name: string;
  params: Param[];
  decorators: string[];
  body: Stmt[];
  line: number;
}

interface ClassDef {
  kind: 'class';
  name: string;
  members: Map<string, FunctionDef>;
  line: number;
}

type PyValue =
  | { kind: 'str'; value: string }
  | { kind: 'int'; value: bigint }
  | { kind: 'function'; def: FunctionDef; boundTo?: PyValue }
  | { kind: 'class'; def: ClassDef };

type Scope = Map<string, PyValue>;

const MAX_CALL_DEPTH = 64;

export class PythonModule {
  private readonly functions = new Map<string, FunctionDef>();
  private readonly classes = new Map<string, ClassDef>();
  private readonly assignments = new Map<string, Token[]>();
  private depth = 0;

  constructor(
    source: string,
    readonly file: string,
  ) {
    let tokens: Token[];
    try {
      tokens = tokenize(source);
    } catch (err) {
      if (err instanceof LexError) throw new PythonEvalError(err.message, file, err.line);
      throw err;
    }
    for (const def of this.definitions(parseBlock(tokens, { i: 0 }, file))) {
      if (def.kind === 'function') this.functions.set(def.name, def);
      else if (def.kind === 'class') this.classes.set(def.name, def);
      else this.assignments.set(def.name, def.value);
    }
  }

  /** Calls a module function (`name`) or a class's method (`Class.method`) with string arguments. */
  callString(qualifiedName: string, args: string[]): string {
    const [first, second] = qualifiedName.split('.');
    let fn: PyValue;
    if (second !== undefined) {
      const cls = this.classes.get(first!);
      if (!cls) throw new PythonEvalError(`no class '${first}'`, this.file);
      fn = this.attribute({ kind: 'class', def: cls }, second, cls.line);
    } else {
      const def = this.functions.get(first!);
      if (!def) throw new PythonEvalError(`no function '${first}'`, this.file);
      fn = { kind: 'function', def };
    }
    const line = fn.kind === 'function' ? fn.def.line : undefined;
    const argValues = args.map((value): PyValue => ({ kind: 'str', value }));
    return this.asString(this.call(fn, argValues, new Map(), line), line);
  }

  /** Evaluates one expression (e.g. a run of string literals) with the given names bound to strings. */
  evalString(expression: string, names: Record<string, string> = {}): string {
    let tokens: Token[];
    try {
      tokens = tokenize(expression).filter((t) => t.type !== 'newline' && t.type !== 'eof');
    } catch (err) {
      if (err instanceof LexError) throw new PythonEvalError(err.message, this.file, err.line);
      throw err;
    }
    const scope: Scope = new Map(Object.entries(names).map(([k, v]) => [k, { kind: 'str', value: v }]));
    return this.asString(this.evalTokens(tokens, scope), tokens[0]?.line);
  }

  private *definitions(
    stmts: Stmt[],
  ): Generator<FunctionDef | ClassDef | { kind: 'assign'; name: string; value: Token[] }> {
    let decorators: string[] = [];
    for (const stmt of stmts) {
      const t = stmt.tokens;
      if (isOp(t[0], '@')) {
        decorators.push(
          t
            .slice(1)
            .map((x) => x.value)
            .join(''),
        );
        continue;
      }
      if (isName(t[0], 'def')) yield this.parseDef(stmt, decorators);
      else if (isName(t[0], 'class')) yield this.parseClass(stmt);
      else if (t[0]?.type === 'name' && isOp(t[1], '='))
        yield { kind: 'assign', name: t[0].value, value: t.slice(2) };
      decorators = [];
    }
  }

  private parseClass(stmt: Stmt): ClassDef {
    const name = stmt.tokens[1];
    if (name?.type !== 'name') throw this.error('expected a class name', stmt.tokens[0]);
    const members = new Map<string, FunctionDef>();
    for (const def of this.definitions(stmt.body)) if (def.kind === 'function') members.set(def.name, def);
    return { kind: 'class', name: name.value, members, line: name.line };
  }

  private parseDef(stmt: Stmt, decorators: string[]): FunctionDef {
    const t = stmt.tokens;
    const name = t[1];
    if (name?.type !== 'name' || !isOp(t[2], '(')) throw this.error('malformed def', t[0]);
    const close = matchingClose(t, 2);
    if (close < 0) throw this.error('unclosed parameter list', name);
    const params: Param[] = [];
    for (const part of splitTopLevel(t.slice(3, close), ',')) {
      if (!part.length || isOp(part[0], '/') || isOp(part[0], '*') || isOp(part[0], '**')) continue;
      const eq = part.findIndex((x) => isOp(x, '='));
      const param: Param = { name: part[0]!.value };
      if (eq >= 0) param.defaultTokens = part.slice(eq + 1);
      params.push(param);
    }
    // The header ends at the first top-level ':' after the parameters (an annotation `-> x` may come first).
    const colon = t.findIndex((x, i) => i > close && isOp(x, ':'));
    const inline = t.slice(colon + 1);
    const body = inline.length ? [{ tokens: inline, body: [] }] : stmt.body;
    return { kind: 'function', name: name.value, params, decorators, body, line: name.line };
  }

  private call(
    fn: PyValue,
    args: PyValue[],
    kwargs: Map<string, PyValue>,
    line: number | undefined,
  ): PyValue {
    if (fn.kind === 'class')
      throw new PythonEvalError(`cannot instantiate class '${fn.def.name}'`, this.file, line);
    if (fn.kind !== 'function') throw new PythonEvalError(`a ${fn.kind} is not callable`, this.file, line);
    if (++this.depth > MAX_CALL_DEPTH) throw new PythonEvalError('calls nested too deeply', this.file, line);
    try {
      const def = fn.def;
      const positional = fn.boundTo ? [fn.boundTo, ...args] : args;
      if (positional.length > def.params.length) {
        throw new PythonEvalError(`${def.name}() takes ${def.params.length} arguments`, this.file, line);
      }
      const scope: Scope = new Map();
      def.params.forEach((p, i) => {
        const value = positional[i] ?? kwargs.get(p.name);
        if (value) scope.set(p.name, value);
        else if (p.defaultTokens) scope.set(p.name, this.evalTokens(p.defaultTokens, new Map()));
        else throw new PythonEvalError(`${def.name}() missing argument '${p.name}'`, this.file, line);
      });
      for (const k of kwargs.keys()) {
        if (!def.params.some((p) => p.name === k)) {
          throw new PythonEvalError(
            `${def.name}() got an unexpected keyword argument '${k}'`,
            this.file,
            line,
          );
        }
      }
      return this.execute(def, scope);
    } finally {
      this.depth--;
    }
  }

  /** Runs a function body of assignments and a return. */
  private execute(def: FunctionDef, scope: Scope): PyValue {
    for (const stmt of def.body) {
      const t = stmt.tokens;
      if (stmt.body.length) throw this.error(`unsupported compound statement in ${def.name}()`, t[0]);
      if (isName(t[0], 'return')) return this.evalTokens(t.slice(1), scope);
      if (isName(t[0], 'pass') || t.every((x) => x.type === 'string')) continue; // docstrings
      if (t[0]?.type === 'name' && isOp(t[1], '=')) {
        scope.set(t[0].value, this.evalTokens(t.slice(2), scope));
        continue;
      }
      throw this.error(`unsupported statement in ${def.name}()`, t[0]);
    }
    throw new PythonEvalError(`${def.name}() does not return a value`, this.file, def.line);
  }

  private evalTokens(tokens: Token[], scope: Scope): PyValue {
    if (!tokens.length) throw new PythonEvalError('empty expression', this.file);
    const parser = new ExprParser(tokens, scope, this);
    const value = parser.parseSum();
    parser.expectEnd();
    return value;
  }

  /** @internal Used by the expression parser. */
  lookup(name: string, scope: Scope, at: Token): PyValue {
    const local = scope.get(name);
    if (local) return local;
    const fn = this.functions.get(name);
    if (fn) return { kind: 'function', def: fn };
    const cls = this.classes.get(name);
    if (cls) return { kind: 'class', def: cls };
    const assigned = this.assignments.get(name);
    if (assigned) return this.evalTokens(assigned, new Map());
    throw this.error(`name '${name}' is not defined (or not a supported value)`, at);
  }

  /** @internal */
  attribute(target: PyValue, name: string, line: number | undefined): PyValue {
    if (target.kind !== 'class') {
      throw new PythonEvalError(`attribute '.${name}' of a ${target.kind} is not supported`, this.file, line);
    }
    const member = target.def.members.get(name);
    if (!member)
      throw new PythonEvalError(`class '${target.def.name}' has no method '${name}'`, this.file, line);
    // Instances are modelled by their class: enough for methods that build strings from sibling methods.
    if (member.decorators.includes('staticmethod')) return { kind: 'function', def: member };
    return { kind: 'function', def: member, boundTo: target };
  }

  /** @internal */
  invoke(fn: PyValue, args: PyValue[], kwargs: Map<string, PyValue>, line: number): PyValue {
    return this.call(fn, args, kwargs, line);
  }

  /** @internal Python's str() of a supported value. */
  asString(value: PyValue, line: number | undefined): string {
    if (value.kind === 'str') return value.value;
    if (value.kind === 'int') return value.value.toString();
    throw new PythonEvalError(`expected a string, got a ${value.kind}`, this.file, line);
  }

  /** @internal Evaluates an f-string field's expression in the scope of the literal that holds it. */
  evalField(expression: string, scope: Scope, at: Token): string {
    let tokens: Token[];
    try {
      // A field may span lines inside a triple-quoted string; CPython parses it as if parenthesised.
      tokens = tokenize(`(${expression})`).filter((t) => t.type !== 'newline' && t.type !== 'eof');
    } catch (err) {
      if (err instanceof LexError)
        throw new PythonEvalError(`in f-string field: ${err.message}`, this.file, at.line);
      throw err;
    }
    return this.asString(this.evalTokens(tokens, scope), at.line);
  }

  /** @internal */
  error(message: string, at: Token | undefined): PythonEvalError {
    return new PythonEvalError(message, this.file, at?.line);
  }
}

/** Recursive descent over one expression, evaluating as it goes. */
class ExprParser {
  private i = 0;

  constructor(
    private readonly tokens: Token[],
    private readonly scope: Scope,
    private readonly mod: PythonModule,
  ) {}

  parseSum(): PyValue {
    let left = this.parsePrimary();
    while (isOp(this.peek(), '+')) {
      const op = this.tokens[this.i++]!;
      const right = this.parsePrimary();
      if (left.kind === 'str' && right.kind === 'str')
        left = { kind: 'str', value: left.value + right.value };
      else if (left.kind === 'int' && right.kind === 'int')
        left = { kind: 'int', value: left.value + right.value };
      else throw this.mod.error(`unsupported operands for +: ${left.kind} and ${right.kind}`, op);
    }
    return left;
  }

  expectEnd(): void {
    const t = this.peek();
    if (t) throw this.mod.error(`unsupported syntax at '${t.value}'`, t);
  }

  private parsePrimary(): PyValue {
    let value = this.parseAtom();
    for (;;) {
      const t = this.peek();
      if (isOp(t, '.')) {
        this.i++;
        const name = this.tokens[this.i++];
        if (name?.type !== 'name') throw this.mod.error("expected a name after '.'", t);
        value = this.mod.attribute(value, name.value, name.line);
      } else if (isOp(t, '(')) {
        const { args, kwargs } = this.parseArgs();
        value = this.mod.invoke(value, args, kwargs, t!.line);
      } else return value;
    }
  }

  private parseAtom(): PyValue {
    const t = this.tokens[this.i];
    if (!t) throw this.mod.error('unexpected end of expression', this.tokens[this.i - 1]);
    if (t.type === 'string') {
      // Adjacent literals concatenate at compile time, each f-string evaluated in the current scope.
      let text = '';
      while (this.peek()?.type === 'string') {
        const lit = this.tokens[this.i++]!;
        text += this.literal(lit);
      }
      return { kind: 'str', value: text };
    }
    this.i++;
    if (t.type === 'name') return this.mod.lookup(t.value, this.scope, t);
    if (t.type === 'number') {
      if (!/^\d[\d_]*$/.test(t.value)) throw this.mod.error(`unsupported number literal ${t.value}`, t);
      return { kind: 'int', value: BigInt(t.value.replace(/_/g, '')) };
    }
    if (isOp(t, '(')) {
      const inner = this.parseSum();
      if (!isOp(this.tokens[this.i], ')')) throw this.mod.error('tuples and generators are not supported', t);
      this.i++;
      return inner;
    }
    throw this.mod.error(`unsupported syntax at '${t.value}'`, t);
  }

  private literal(lit: Token): string {
    try {
      return evalStringLiteral(lit.value, (expr) => this.mod.evalField(expr, this.scope, lit));
    } catch (err) {
      if (err instanceof PythonSyntaxError) throw this.mod.error(err.message, lit);
      throw err;
    }
  }

  private parseArgs(): { args: PyValue[]; kwargs: Map<string, PyValue> } {
    const open = this.i;
    const close = matchingClose(this.tokens, open);
    if (close < 0) throw this.mod.error("'(' was never closed", this.tokens[open]);
    const args: PyValue[] = [];
    const kwargs = new Map<string, PyValue>();
    for (const part of splitTopLevel(this.tokens.slice(open + 1, close), ',')) {
      if (!part.length) continue;
      const sub = new ExprParser(part, this.scope, this.mod);
      if (part[0]!.type === 'name' && isOp(part[1], '=')) {
        sub.i = 2;
        kwargs.set(part[0]!.value, sub.parseSum());
      } else {
        if (kwargs.size) throw this.mod.error('positional argument follows keyword argument', part[0]);
        args.push(sub.parseSum());
      }
      sub.expectEnd();
    }
    this.i = close + 1;
    return { args, kwargs };
  }

  private peek(): Token | undefined {
    return this.tokens[this.i];
  }
}

/** Groups tokens into statements; an INDENT after a statement opens its suite. */
function parseBlock(tokens: Token[], cursor: { i: number }, file: string): Stmt[] {
  const stmts: Stmt[] = [];
  let current: Token[] = [];
  while (cursor.i < tokens.length) {
    const t = tokens[cursor.i++]!;
    if (t.type === 'eof' || t.type === 'dedent') break;
    if (t.type === 'newline') {
      if (current.length) stmts.push({ tokens: current, body: [] });
      current = [];
    } else if (t.type === 'indent') {
      const parent = stmts[stmts.length - 1];
      if (!parent) throw new PythonEvalError('unexpected indent', file, t.line);
      parent.body = parseBlock(tokens, cursor, file);
    } else current.push(t);
  }
  if (current.length) stmts.push({ tokens: current, body: [] });
  return stmts;
}

/** Index of the bracket closing the one at `open`, or -1. */
function matchingClose(tokens: Token[], open: number): number {
  let depth = 0;
  for (let i = open; i < tokens.length; i++) {
    const t = tokens[i]!;
    if (t.type !== 'op') continue;
    if ('([{'.includes(t.value)) depth++;
    else if (')]}'.includes(t.value) && --depth === 0) return i;
  }
  return -1;
}

/** Splits on a separator at bracket depth 0. */
function splitTopLevel(tokens: Token[], sep: string): Token[][] {
  const parts: Token[][] = [[]];
  let depth = 0;
  for (const t of tokens) {
    if (t.type === 'op' && '([{'.includes(t.value)) depth++;
    else if (t.type === 'op' && ')]}'.includes(t.value)) depth--;
    if (depth === 0 && isOp(t, sep)) parts.push([]);
    else parts[parts.length - 1]!.push(t);
  }
  return parts;
}

function isOp(t: Token | undefined, value: string): boolean {
  return t?.type === 'op' && t.value === value;
}

function isName(t: Token | undefined, value: string): boolean {
  return t?.type === 'name' && t.value === value;
}
