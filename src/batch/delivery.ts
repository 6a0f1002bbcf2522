import { InputError } from '../errors.js';
import type { TargetSpec } from '../config/schema.js';
import type { RunStore } from '../store/store.js';
import { endpointInfo, type Endpoint } from '../target/endpoint.js';
import { providerEnv, providerOf } from '../target/create.js';
import { isHttpProvider } from '../target/http-provider.js';
import { providerOptions, type TargetEnv } from '../target/provider.js';
import { AnthropicBatchProtocol, OpenAIBatchProtocol, type BatchProtocol } from './protocol.js';
import { BatchTarget } from './target.js';

/**
 * Batch delivery for a run: builds the batch targets of the specs that ask for it (`batch: true` or
 * `delivery: batch`), tells them which run store and run they belong to, and whether this process waits for
 * its batches (`run --wait`, the default) or submits them and leaves (`run --no-wait`).
 */

/** The providers with a batch API, by provider name. */
const BATCH_APIS: Record<string, (ep: Endpoint) => BatchProtocol> = {
  openai: (ep) => new OpenAIBatchProtocol(ep),
  anthropic: (ep) => new AnthropicBatchProtocol(ep),
};

/** Whether a target spec asks for batch delivery (and does not contradict itself). */
export function wantsBatch(spec: TargetSpec, path: string): boolean {
  if (spec.batch !== undefined && spec.delivery !== undefined && spec.batch !== (spec.delivery === 'batch')) {
    throw new InputError(`batch: ${spec.batch} and delivery: ${spec.delivery} disagree; give one of them`, {
      field: `${path}.delivery`,
    });
  }
  return spec.batch === true || spec.delivery === 'batch';
}

export class BatchDelivery {
  private readonly targets: BatchTarget[] = [];
  /** false: submit batches and leave them for a later run (`run --no-wait`). */
  wait = true;

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  /** Whether any target or model of the run is batched. */
  get active(): boolean {
    return this.targets.length > 0;
  }

  /** A batch target for `spec` (openai: or anthropic:); `path` names the spec in errors. */
  target(spec: TargetSpec, ctx: TargetEnv, path: string): BatchTarget {
    const provider = providerOf(spec, path);
    const api = BATCH_APIS[provider.name];
    if (!api || !isHttpProvider(provider)) {
      throw new InputError(
        `batch delivery needs an openai: or anthropic: target (a provider batch API); '${provider.name}:' has none`,
        { field: `${path}.batch` },
      );
    }
    const options = providerOptions(provider, spec, path, ctx.source);
    if (Array.isArray(options.base_url) || options.endpoints !== undefined) {
      throw new InputError('batch delivery sends to one server: give base_url one URL, not a replica pool', {
        field: `${path}.batch`,
      });
    }
    if (options.stream) {
      throw new InputError('batch delivery does not stream: drop stream: true or batch', {
        field: `${path}.stream`,
      });
    }
    const ep = provider.endpoint(options, providerEnv(spec, ctx), path);
    const envPoll = Number(this.env['REFUSENIK_BATCH_POLL_S']);
    const pollS =
      this.env['REFUSENIK_BATCH_POLL_S'] !== undefined && Number.isFinite(envPoll) && envPoll > 0
        ? envPoll
        : options.batch_poll_s;
    const protocol = api(ep);
    const t = new BatchTarget(endpointInfo(provider.name, ep), protocol, {
      id: ep.id,
      pollMs: pollS * 1000,
      maxRequests: options.batch_max_requests ?? protocol.maxRequests,
    });
    this.targets.push(t);
    return t;
  }

  /** Waits until every batch whose answers this process handed out is recorded as collected. */
  async drain(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.drain()));
  }

  /** The run store and run the batches belong to (called when the run starts). */
  bind(store: RunStore | undefined, runId: string | undefined): void {
    for (const t of this.targets) t.bind({ store, runId, wait: this.wait });
  }
}
