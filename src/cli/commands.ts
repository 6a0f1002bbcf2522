import type { Command } from 'commander';

/**
 * Every verb, in the order `--help` lists them. Each module exports one `register…` function that adds its
 * command (and sub-commands) to the program; modules are imported only when their verb runs (or when help for
 * every verb is wanted), so `refusenik run` never loads the trainer launcher or the HTML report.
 */
export interface Verb {
  name: string;
  register(program: Command): Promise<void>;
}

export const VERBS: readonly Verb[] = [
  { name: 'run', register: async (p) => (await import('./run.js')).registerRunCommand(p) },
  { name: 'report', register: async (p) => (await import('./report.js')).registerReportCommand(p) },
  { name: 'runs', register: async (p) => (await import('./runs.js')).registerRunsCommand(p) },
  { name: 'analyze', register: async (p) => (await import('./analyze.js')).registerAnalyzeCommand(p) },
  { name: 'compare', register: async (p) => (await import('./compare.js')).registerCompareCommand(p) },
  { name: 'prompts', register: async (p) => (await import('./prompts.js')).registerPromptsCommand(p) },
  { name: 'schema', register: async (p) => (await import('./schema.js')).registerSchemaCommand(p) },
  { name: 'data', register: async (p) => (await import('./data.js')).registerDataCommand(p) },
  {
    name: 'mock-server',
    register: async (p) => (await import('./mock-server.js')).registerMockServerCommand(p),
  },
  { name: 'score', register: async (p) => (await import('./score.js')).registerScoreCommand(p) },
  { name: 'suite', register: async (p) => (await import('./suite.js')).registerSuiteCommand(p) },
  {
    name: 'judge',
    register: async (p) => {
      const [judge, validate] = await Promise.all([import('./judge.js'), import('./validate.js')]);
      validate.registerJudgeValidateCommand(judge.registerJudgeCommand(p));
    },
  },
  { name: 'import', register: async (p) => (await import('./import.js')).registerImportCommand(p) },
  { name: 'label', register: async (p) => (await import('./label.js')).registerLabelCommand(p) },
  { name: 'derta', register: async (p) => (await import('./derta.js')).registerDertaCommand(p) },
  { name: 'train', register: async (p) => (await import('./train.js')).registerTrainCommand(p) },
  { name: 'loop', register: async (p) => (await import('./loop.js')).registerLoopCommand(p) },
];

/** Registers every verb, in order (the full program: tests, the help manifest). */
export async function registerCommands(program: Command): Promise<void> {
  for (const verb of VERBS) await verb.register(program);
}
