import { describe, expect, it } from 'vitest';
import { runCli, tempDir, writeFile } from '../helpers/cli.js';

/** Batch delivery's options are checked before anything is built or sent, with errors naming the field. */

const dir = tempDir('refusenik-batch-config-');
writeFile(dir, 'goals.jsonl', `${JSON.stringify({ goal: 'goal 0' })}\n`);

function config(name: string, target: string): string {
  return writeFile(
    dir,
    name,
    `dataset: {path: goals.jsonl}\nattacks: [plain]\ntargets:\n${target}judges: [keyword]\n`,
  );
}

describe('batch delivery config', () => {
  it('refuses a provider without a batch API, naming the field', async () => {
    const cfg = config('mock.yaml', '  - id: mock:refuse\n    batch: true\n');
    const res = await runCli(['run', cfg, '--db', `${dir}/a.db`, '--dry-run']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('targets[0].batch');
    expect(res.stderr).toContain('batch delivery needs an openai: or anthropic: target');
  });

  it('refuses batch and delivery that disagree', async () => {
    const cfg = config(
      'both.yaml',
      '  - id: openai:m\n    base_url: http://127.0.0.1:9/v1\n    batch: true\n    delivery: live\n',
    );
    const res = await runCli(['run', cfg, '--db', `${dir}/b.db`, '--dry-run']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('targets[0].delivery');
  });

  it('refuses a batch_poll_s that is not positive, naming the key', async () => {
    const cfg = config('poll.yaml', '  - id: openai:m\n    batch: true\n    batch_poll_s: 0\n');
    const res = await runCli(['run', cfg, '--db', `${dir}/c.db`, '--dry-run']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('batch_poll_s');
  });

  it('reads batch options under `options` too, naming the key there', async () => {
    const cfg = config('nested.yaml', '  - id: openai:m\n    batch: true\n    options: {batch_poll_s: 0}\n');
    const res = await runCli(['run', cfg, '--db', `${dir}/d.db`, '--dry-run']);
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('targets[0].options.batch_poll_s');
  });
});
