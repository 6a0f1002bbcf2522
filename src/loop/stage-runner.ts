import type { z } from 'zod';
import type { LoopStage, RunStore } from '../store/store.js';
import { canonicalJson, sha256 } from '../util/hash.js';

/**
 * Runs (or reuses) a loop's stages, each recorded in the run store with a key made from everything it was
 * built from (its config section and the outputs it reads). A stage whose key is unchanged, whose stored
 * output still parses with its schema and whose files still exist is kept (`cached`); otherwise it runs.
 * Outputs are typed: each stage declares a zod schema, and what is read back from the store is parsed with it,
 * so a renamed field fails here, by name, instead of deep in a later stage.
 */

export type StageStatus = 'ran' | 'cached' | 'failed' | 'pending';

export interface StageEntry {
  name: string;
  status: StageStatus;
  output?: Record<string, unknown>;
}

export interface StageSpec<T extends Record<string, unknown>> {
  name: string;
  /** Everything the stage is made from; a change redoes it and the stages that read its output. */
  key: unknown;
  output: z.ZodType<T>;
  /** Whether a kept output is still usable (its files exist, its runs are complete). */
  valid?: (out: T) => boolean;
  run: () => Promise<T>;
}

/**
 * One stage of the loop as a typed unit (src/loop/stages/): its name, the schema of its output, the key made
 * from its typed input, and how to run it. `I` is what it reads from earlier stages; `C` the loop's context.
 */
export interface Stage<C, I, O extends Record<string, unknown>> {
  name: string;
  output: z.ZodType<O>;
  key: (c: C, input: I) => unknown;
  valid?: (c: C, out: O) => boolean;
  run: (c: C, input: I) => Promise<O>;
}

export class StageRunner {
  readonly entries: StageEntry[];
  private readonly previous: Map<string, LoopStage>;

  constructor(
    private readonly store: RunStore,
    private readonly loopId: string,
    names: readonly string[],
    private readonly log: (line: string) => void,
    private readonly until?: string,
  ) {
    this.entries = names.map((name) => ({ name, status: 'pending' }));
    this.previous = new Map(store.loopStages(loopId).map((s) => [s.name, s]));
  }

  /** Runs (or keeps) a typed stage; an arm's stages carry its prefix (`derta:`). */
  async stage<C, I, O extends Record<string, unknown>>(
    def: Stage<C, I, O>,
    c: C,
    input: I,
    prefix = '',
  ): Promise<{ output: O; stop: boolean }> {
    return this.run({
      name: `${prefix}${def.name}`,
      key: def.key(c, input),
      output: def.output,
      ...(def.valid ? { valid: (out: O) => (def.valid as NonNullable<typeof def.valid>)(c, out) } : {}),
      run: () => def.run(c, input),
    });
  }

  /** The stage's output; `stop` is true when the loop should stop after it (`--until`). */
  async run<T extends Record<string, unknown>>(spec: StageSpec<T>): Promise<{ output: T; stop: boolean }> {
    const index = this.entries.findIndex((e) => e.name === spec.name);
    if (index < 0) throw new Error(`stage ${spec.name} was not declared`);
    const entry = this.entries[index] as StageEntry;
    const inputKey = sha256(canonicalJson(spec.key));
    const prior = this.previous.get(spec.name);
    const kept =
      prior?.status === 'done' && prior.input_key === inputKey
        ? spec.output.safeParse(prior.output)
        : undefined;
    if (kept?.success && (spec.valid?.(kept.data) ?? true)) {
      entry.status = 'cached';
      entry.output = kept.data;
      this.log(`loop: ${spec.name}: done earlier, kept`);
      return { output: kept.data, stop: this.until === spec.name };
    }
    this.log(`loop: ${spec.name}...`);
    this.store.startLoopStage(this.loopId, spec.name, index, inputKey);
    try {
      const output = spec.output.parse(await spec.run());
      this.store.finishLoopStage(this.loopId, spec.name, output);
      entry.status = 'ran';
      entry.output = output;
      return { output, stop: this.until === spec.name };
    } catch (err) {
      this.store.finishLoopStage(
        this.loopId,
        spec.name,
        null,
        err instanceof Error ? err.message : String(err),
      );
      entry.status = 'failed';
      throw err;
    }
  }
}
