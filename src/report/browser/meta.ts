import { pre, section, table } from './blocks.js';
import { add, el } from './dom.js';
import type { Report } from './state.js';

/** The run's metadata: ids, times, versions, requests and cost per role, the redacted config snapshot. */
export function renderMeta({ data, app }: Report): void {
  const run = data.run;
  const metaSec = section(app, 'meta', 'Run metadata');
  const info: [string, string | number][] = [
    ['run id', run.id],
    ['name', run.name || ''],
    ['status', run.status],
    ['created', run.created_at],
    ['updated', run.updated_at],
    ['config file', run.config_file || ''],
    ['cases', `${data.counts.ok} done, ${data.counts.errors} errors, of ${run.cases_total}`],
  ];
  const versions = run.versions;
  if (versions && typeof versions === 'object') {
    for (const [name, v] of Object.entries(versions as Record<string, unknown>)) {
      info.push(['version: ' + name, typeof v === 'string' ? v : JSON.stringify(v)]);
    }
  }
  table(metaSec, ['', ''], info, 99);
  add(metaSec, el('h3', null, 'Requests, tokens and cost per role'));
  if (!data.requests.length) add(metaSec, el('p', 'empty', 'No requests were logged.'));
  else {
    table(
      metaSec,
      ['role', 'model', 'requests', 'cached', 'errors', 'prompt tokens', 'completion tokens', 'cost (USD)'],
      data.requests.map((r) => [
        r.role,
        r.target,
        r.requests,
        r.cached,
        r.errors,
        r.prompt_tokens,
        r.completion_tokens,
        (r.cost_usd || 0).toFixed(4),
      ]),
      2,
    );
  }
  const cfg = add(metaSec, el('details', 'config'));
  add(cfg, el('summary', null, 'config snapshot (secret-looking values redacted)'));
  cfg.appendChild(pre(JSON.stringify(run.config, null, 2)));
}
