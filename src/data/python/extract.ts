import { tokenize, LexError, type Token } from './lexer.js';
import { evalStringLiteral, PythonSyntaxError } from './strings.js';

/**
 * Reads the prompts a Python module keeps as string literals, without running it. It records, per function
 * (top level, or a class's method), the string literals its statements assign to a name or to `self.<attr>`
 * and the value it returns, and the string constants of the module. Nothing is evaluated but literals: a
 * string is adjacent literals (or `+` between them), f-strings included, whose fields may name a parameter,
 * a local or module string, or a string attribute of the class (`{goal}`, `{self.detailed_policy}`). Every
 * other statement is skipped. A value it cannot read that way is an error naming the file and line.
 */

export class PythonExtractError extends Error {
  constructor(message: string, file: string, line?: number) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${message}`);
    this.name = 'PythonExtractError';
  }
}

/** The module's tokens; a lexing error is a PythonExtractError naming the file and line. */
export function tokenizeModule(source: string, file: string): Token[] {
  try {
    return tokenize(source);
  } catch (err) {
    if (err instanceof LexError) throw new PythonExtractError(err.message, file, err.line);
    throw err;
  }
}

interface FunctionStrings {
  name: string;
  params: string[];
  line: number;
  locals: Map<string, Token[]>;
  /** Names given a value that is not literals (`goal = goal.strip()`), with the line: never read as strings. */
  opaque: Map<string, number>;
  returns?: Token[];
  returnLine?: number;
}

interface ClassStrings {
  name: string;
  methods: Map<string, FunctionStrings>;
  /** `self.<attr> = <literals>` in any method. */
  attributes: Map<string, Token[]>;
  opaque: Map<string, number>;
}

/** What a rendered string's f-string fields can name. */
interface Scope {
  args: Map<string, string>;
  locals: Map<string, Token[]>;
  opaque: Map<string, number>;
  cls?: ClassStrings;
  attributes: Readonly<Record<string, string>>;
}

const MAX_DEPTH = 32;

export class PythonStrings {
  private readonly functions = new Map<string, FunctionStrings>();
  private readonly classes = new Map<string, ClassStrings>();
  private readonly constants = new Map<string, Token[]>();
  private depth = 0;

  constructor(
    source: string,
    readonly file: string,
  ) {
    this.read(tokenizeModule(source, file));
  }

  /**
   * The string `name` (a function, or `Class.method`) returns for these positional arguments; `attributes`
   * replace class attributes (e.g. a holder name left as a placeholder).
   */
  callString(
    name: string,
    args: readonly string[],
    attributes: Readonly<Record<string, string>> = {},
  ): string {
    const [first, method] = name.split('.') as [string, string | undefined];
    let fn: FunctionStrings | undefined;
    let cls: ClassStrings | undefined;
    if (method !== undefined) {
      cls = this.classes.get(first);
      if (!cls) throw new PythonExtractError(`no class '${first}'`, this.file);
      fn = cls.methods.get(method);
      if (!fn) throw new PythonExtractError(`class '${first}' has no method '${method}'`, this.file);
    } else {
      fn = this.functions.get(first);
      if (!fn) throw new PythonExtractError(`no function '${first}'`, this.file);
    }
    // A method's first parameter is the instance (or class); arguments bind to the rest, in order.
    const params = cls ? fn.params.slice(1) : fn.params;
    if (args.length > params.length)
      throw new PythonExtractError(`${fn.name}() takes ${params.length} arguments`, this.file, fn.line);
    const missing = params[args.length];
    if (missing !== undefined)
      throw new PythonExtractError(`${fn.name}(): missing argument '${missing}'`, this.file, fn.line);
    if (!fn.returns) throw new PythonExtractError(`${fn.name}() returns no string`, this.file, fn.line);
    const scope: Scope = {
      args: new Map(params.map((p, i) => [p, args[i] as string])),
      locals: fn.locals,
      opaque: fn.opaque,
      ...(cls ? { cls } : {}),
      attributes,
    };
    const ret = fn.returns;
    const only = ret.length === 1 ? ret[0] : undefined;
    if (only?.type === 'name') return this.resolve(only.value, scope, only.line);
    const literals = stringTokens(ret);
    if (!literals)
      throw new PythonExtractError(
        `${fn.name}() returns something other than string literals`,
        this.file,
        fn.returnLine,
      );
    return this.render(literals, scope);
  }

  // ---- reading: logical lines by indentation, only the statements that hold string literals ----------

  private read(tokens: readonly Token[]): void {
    let depth = 0;
    let cls: { def: ClassStrings; depth: number } | undefined;
    let fn: { def: FunctionStrings; depth: number } | undefined;
    let line: Token[] = [];
    for (const t of tokens) {
      if (t.type === 'indent') depth++;
      else if (t.type === 'dedent') depth--;
      else if (t.type === 'newline' || t.type === 'eof') {
        if (line.length) {
          if (cls && depth <= cls.depth) cls = undefined;
          if (fn && depth <= fn.depth) fn = undefined;
          const opened = this.statement(line, depth, cls, fn);
          if (opened && 'methods' in opened) cls = { def: opened, depth };
          else if (opened) fn = { def: opened, depth };
        }
        line = [];
      } else line.push(t);
    }
  }

  /** One logical line; returns the class or function a `class` / `def` line opens. */
  private statement(
    t: Token[],
    depth: number,
    cls: { def: ClassStrings; depth: number } | undefined,
    fn: { def: FunctionStrings; depth: number } | undefined,
  ): ClassStrings | FunctionStrings | undefined {
    const head = t[0] as Token;
    if (isName(head, 'class') && depth === 0) {
      const name = t[1]?.value ?? '';
      const def: ClassStrings = { name, methods: new Map(), attributes: new Map(), opaque: new Map() };
      this.classes.set(name, def);
      return def;
    }
    if (isName(head, 'def')) {
      const top = depth === 0 && !cls;
      const method = cls !== undefined && depth === cls.depth + 1 && !fn;
      if (!top && !method) return undefined; // a nested function: not a prompt of this module
      const def = this.parseDef(t);
      if (method) cls!.def.methods.set(def.name, def);
      else this.functions.set(def.name, def);
      const colon = closingColon(t);
      if (colon < t.length - 1) this.body(t.slice(colon + 1), def, cls?.def); // `def f(): return "x"`
      return def;
    }
    if (fn && depth === fn.depth + 1) this.body(t, fn.def, cls?.def);
    else if (!fn && !cls && depth === 0 && head.type === 'name' && isOp(t[1], '=')) {
      const value = stringTokens(t.slice(2));
      if (value) this.constants.set(head.value, value);
    }
    return undefined;
  }

  private body(t: Token[], fn: FunctionStrings, cls: ClassStrings | undefined): void {
    const head = t[0] as Token;
    if (isName(head, 'return')) {
      fn.returns = t.slice(1);
      fn.returnLine = head.line;
    } else if (head.type === 'name' && isOp(t[1], '=')) {
      const value = stringTokens(t.slice(2));
      if (value) fn.locals.set(head.value, value);
      else fn.opaque.set(head.value, head.line);
    } else if (cls && isSelf(head) && isOp(t[1], '.') && t[2]?.type === 'name' && isOp(t[3], '=')) {
      const value = stringTokens(t.slice(4));
      if (value) cls.attributes.set(t[2].value, value);
      else cls.opaque.set(t[2].value, head.line);
    }
  }

  private parseDef(t: Token[]): FunctionStrings {
    const name = t[1];
    if (name?.type !== 'name' || !isOp(t[2], '('))
      throw new PythonExtractError('expected a function name and (', this.file, t[0]?.line);
    const params: string[] = [];
    let nesting = 0;
    let expectName = true;
    for (let i = 3; i < t.length; i++) {
      const x = t[i] as Token;
      if (x.type === 'op' && '([{'.includes(x.value)) nesting++;
      else if (x.type === 'op' && ')]}'.includes(x.value)) {
        if (nesting-- === 0) break;
      } else if (nesting === 0 && isOp(x, ',')) expectName = true;
      else if (nesting === 0 && expectName && x.type === 'name') {
        params.push(x.value);
        expectName = false; // an annotation or default follows; the next comma starts the next parameter
      } else if (nesting === 0 && expectName && isOp(x, '*')) expectName = true;
    }
    return { name: name.value, params, line: name.line, locals: new Map(), opaque: new Map() };
  }

  // ---- rendering ---------------------------------------------------------------------------------------

  private render(literals: readonly Token[], scope: Scope): string {
    if (++this.depth > MAX_DEPTH)
      throw new PythonExtractError('strings refer to each other too deeply', this.file, literals[0]?.line);
    try {
      return literals
        .map((t) => {
          try {
            return evalStringLiteral(t.value, (expr) => this.resolve(expr.trim(), scope, t.line));
          } catch (err) {
            if (err instanceof PythonSyntaxError)
              throw new PythonExtractError(err.message, this.file, t.line);
            throw err;
          }
        })
        .join('');
    } finally {
      this.depth--;
    }
  }

  /** An f-string field (or a returned name): a parameter, a local, a string attribute or a module string. */
  private resolve(expr: string, scope: Scope, line: number): string {
    const attr = /^(?:self|cls)\.([A-Za-z_]\w*)$/.exec(expr)?.[1];
    // A name also given a value the reader cannot follow is never read as the literal or the argument.
    const opaque = attr !== undefined ? scope.cls?.opaque.get(attr) : scope.opaque.get(expr);
    if (opaque !== undefined)
      throw new PythonExtractError(
        `{${expr}} is also assigned something other than string literals (line ${opaque})`,
        this.file,
        line,
      );
    if (attr !== undefined && scope.cls) {
      const given = scope.attributes[attr];
      if (given !== undefined) return given;
      const value = scope.cls.attributes.get(attr);
      if (value)
        return this.render(value, { ...scope, args: new Map(), locals: new Map(), opaque: new Map() });
    } else if (/^[A-Za-z_]\w*$/.test(expr)) {
      const arg = scope.args.get(expr);
      if (arg !== undefined) return arg;
      const local = scope.locals.get(expr) ?? this.constants.get(expr);
      if (local) return this.render(local, scope);
    }
    throw new PythonExtractError(
      `{${expr}} is not a parameter, a string variable or a string attribute of the class`,
      this.file,
      line,
    );
  }
}

/** The literals of `"a" "b"`, `("a"\n "b")` or `"a" + "b"`; undefined for anything else. */
function stringTokens(t: readonly Token[]): Token[] | undefined {
  let inner = t;
  while (isOp(inner[0], '(') && isOp(inner[inner.length - 1], ')')) inner = inner.slice(1, -1);
  const literals = inner.filter((x) => !isOp(x, '+'));
  if (!literals.length || literals.some((x) => x.type !== 'string')) return undefined;
  // `+` only between literals, never leading, trailing or doubled.
  for (let i = 0; i < inner.length; i++)
    if (isOp(inner[i], '+') && (inner[i - 1]?.type !== 'string' || inner[i + 1]?.type !== 'string'))
      return undefined;
  return literals;
}

/** The `:` that ends a `def` header (after its parameters and any return annotation). */
function closingColon(t: readonly Token[]): number {
  let nesting = 0;
  for (let i = 0; i < t.length; i++) {
    const x = t[i] as Token;
    if (x.type === 'op' && '([{'.includes(x.value)) nesting++;
    else if (x.type === 'op' && ')]}'.includes(x.value)) nesting--;
    else if (nesting === 0 && isOp(x, ':')) return i;
  }
  return t.length - 1;
}

function isName(t: Token | undefined, value: string): boolean {
  return t?.type === 'name' && t.value === value;
}

function isOp(t: Token | undefined, value: string): boolean {
  return t?.type === 'op' && t.value === value;
}

function isSelf(t: Token): boolean {
  return t.type === 'name' && (t.value === 'self' || t.value === 'cls');
}
