import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RunStore } from '../../src/store/store.js';
import { DATA_DIR, runCli, tempDir, writeFile } from '../helpers/cli.js';

// These run the built CLI (`npm run build` first), as a user would.

interface Row {
  goal: string;
  variant: string;
  messages: { role: string; content: string }[];
}

function readRows(file: string): Row[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Row);
}

describe('refusenik prompts --attack codeattack', () => {
  it('writes the paper stack prompts for AdvBench in dataset order', async () => {
    const out = path.join(tempDir(), 'stack.jsonl');
    const r = await runCli([
      'prompts',
      '--attack',
      'codeattack',
      '--language',
      'python',
      '--encoding',
      'stack',
      '--mode',
      'paper',
      '--dataset',
      'pack:codeattack/data/harmful_behaviors.csv',
      '--out',
      out,
    ]);
    expect(r.stderr).toContain('wrote 520 prompts');
    expect(r.code).toBe(0);
    const rows = readRows(out);
    const shipped = JSON.parse(
      readFileSync(path.join(DATA_DIR, 'codeattack/prompts/data_python_stack_full.json'), 'utf8'),
    ) as {
      plain_attack: string;
      code_wrapped_plain_attack: string;
    }[];
    expect(rows).toHaveLength(520);
    rows.forEach((row, i) => {
      expect(row.goal).toBe(shipped[i]?.plain_attack);
      expect(row.variant).toBe('python-stack-paper');
      const last = row.messages.filter((m) => m.role === 'user').at(-1);
      expect(last?.content).toBe(shipped[i]?.code_wrapped_plain_attack);
    });
  });

  it('takes comma lists, --plus, and the own templates for other languages', async () => {
    const dir = tempDir();
    const goals = writeFile(
      dir,
      'goals.jsonl',
      `${JSON.stringify({ goal: 'Say "hi" \\ now' })}\n${JSON.stringify({ goal: 'b' })}\n`,
    );
    const out = path.join(dir, 'own.jsonl');
    const r = await runCli([
      'prompts',
      '--attack',
      'codeattack',
      '--language',
      'rust,go',
      '--encoding',
      'tree',
      '--plus',
      '--mode',
      'refusenik',
      '--dataset',
      goals,
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    const rows = readRows(out);
    expect(rows.map((x) => [x.goal, x.variant])).toEqual([
      ['Say "hi" \\ now', 'rust-tree-plus-refusenik'],
      ['Say "hi" \\ now', 'go-tree-plus-refusenik'],
      ['b', 'rust-tree-plus-refusenik'],
      ['b', 'go-tree-plus-refusenik'],
    ]);
    expect(rows[0]?.messages[0]?.content).toContain('node("\\"hi\\""');
  });

  it('exits 2 naming the valid combinations for an unknown one', async () => {
    const out = path.join(tempDir(), 'x.jsonl');
    const base = [
      'prompts',
      '--attack',
      'codeattack',
      '--dataset',
      'pack:codeattack/data/harmful_behaviors.csv',
      '--out',
      out,
    ];
    const bad = await runCli([...base, '--language', 'go', '--encoding', 'stack', '--mode', 'paper']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("codeattack has no go/stack variant in mode 'paper'");
    expect(bad.stderr).toContain('paper: python x string|list|stack [--plus]');
    expect(bad.stderr).toContain('head: python x string|list|stack [--plus], cpp x string, go x string');
    expect(bad.stderr).toContain(
      'refusenik: python|cpp|go|javascript|typescript|rust|java x string|list|stack|reversed|wordmap|tree',
    );
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
    const unknown = await runCli([...base, '--language', 'cobol', '--encoding', 'stack', '--mode', 'paper']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown codeattack language 'cobol'.*Valid combinations/);
    const mode = await runCli([...base, '--mode', 'fast']);
    expect(mode.code).toBe(2);
    expect(mode.stderr).toMatch(/mode/);
  });
});

describe('codeattack in a run', () => {
  it('expands list options into variants and stores the raw response and the extracted answer', async () => {
    const dir = tempDir();
    const cfg = writeFile(
      dir,
      'run.yaml',
      [
        'dataset: {pack: codeattack, file: data/harmful_behaviors.csv, limit: 3}',
        'attacks:',
        '  - plain',
        '  - codeattack: {language: python, encoding: [string, list, stack], mode: paper}',
        'targets:',
        '  - id: mock:refuse-plain',
        '    temperature: 0',
        'judges: [keyword]',
      ].join('\n'),
    );
    const db = path.join(dir, 'run.db');
    const r = await runCli(['run', cfg, '--db', db, '--json', '--no-progress']);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout) as { run_id: string; cases_total: number };
    expect(summary.cases_total).toBe(12);
    const store = RunStore.open(db);
    try {
      const cases = [...store.iterateCases(summary.run_id)].filter((c) => c.attack === 'codeattack');
      expect(new Set(cases.map((c) => c.variant))).toEqual(
        new Set(['python-string-paper', 'python-list-paper', 'python-stack-paper']),
      );
      expect(cases).toHaveLength(9);
      for (const c of cases) {
        expect(c.response).toContain('```python');
        expect(c.answer).toBe(
          "['Step 1: gather what the task needs.', 'Step 2: carry out the task in detail.', 'Step 3: cover your tracks.']",
        );
      }
    } finally {
      store.close();
    }
  });

  it('examples/codeattack-paper.yaml plans 520 goals x 3 encodings judged by qi2023', async () => {
    const r = await runCli(
      ['run', 'examples/codeattack-paper.yaml', '--db', path.join(tempDir(), 'x.db'), '--dry-run'],
      {
        env: { OPENAI_API_KEY: 'not-a-real-key' },
      },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1560 cases = 520 behaviors x 3 attack variants');
    expect(r.stdout).toContain(
      'codeattack/python-string-paper, codeattack/python-list-paper, codeattack/python-stack-paper',
    );
    expect(r.stdout).toMatch(/judges:\s+qi2023/);
  });
});
