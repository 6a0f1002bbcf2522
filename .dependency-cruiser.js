// The layers of src/, bottom first: a module imports only from its own folder or from a layer below it, and
// no import cycle exists, between files or folders (type-only and dynamic imports count). `npm run lint` runs
// this (`depcruise src`) and fails on any breach; there is no exceptions list. The README's layout section is
// this list. A new folder of src/ joins the list at its place, or lint refuses it.
const LAYERS = [
  ['core', '`src/*.ts`: errors, the shared value types, the version'],
  ['util', 'hashing, seeded random, atomic writes, secrets, retries, progress bars, the rate limiter'],
  ['config', 'zod schemas of the configs, file/line validation errors, the plugin registry'],
  ['data', "pinned data packs and their integrity; `data/python/` reads upstream's prompt literals"],
  ['dataset', 'goal datasets and response records: loading, fields, labels'],
  ['text', 'tokenizers and chat templates (rendering a conversation, framing the assistant turn)'],
  ['helpfulness', 'pure graders of answers: GSM8K numbers, MMLU letters'],
  ['store', 'the run store (SQLite): runs, leases, cases, verdicts, requests; shards; merging stores'],
  ['target', 'providers: one `Target` per model endpoint, replica pools, the mock servers'],
  ['service', 'the one model-call service: cache, request log, tokens and cost, rate limits'],
  ['batch', "batch delivery through providers' batch APIs (docs/batch.md)"],
  ['judge', 'judges (plugins), and judging or scoring recorded responses offline'],
  ['attack', 'attacks (plugins): single-turn rewrites, searches, multi-turn'],
  ['runner', 'the engine: plan a run config, execute it, sessions and leases, `import`, model resolution'],
  ['analysis', 'statistics over stored runs (ASR, agreement, paired tests, depth) and the transition probe'],
  ['report', 'Markdown, CSV and HTML reports'],
  [
    'derta',
    'DeRTa training data (rows, formats, labels, mixtures) and the trainer launcher (`derta/trainer.ts`)',
  ],
  ['loop', 'the attack → train → re-attack loop'],
  ['suite', 'the paper tables'],
  ['cli', 'one module per command'],
];

const folder = (name) => (name === 'core' ? '^src/[^/]+$' : `^src/${name}/`);
const anyOf = (names) => names.map(folder).join('|');
const known = LAYERS.map(([name]) => name);

export default {
  forbidden: [
    ...LAYERS.slice(0, -1).map(([name], i) => ({
      name: `layer-${name}`,
      comment: `${name} imports only from ${['itself', ...known.slice(0, i)].join(', ')} (.dependency-cruiser.js)`,
      severity: 'error',
      from: { path: folder(name) },
      to: { path: anyOf(known.slice(i + 1)) },
    })),
    {
      name: 'no-cycle',
      comment: 'no import cycle between files (and so none between folders)',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-layer',
      comment: 'every folder of src/ has its place in LAYERS (.dependency-cruiser.js)',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^src/', pathNot: anyOf(known) },
    },
    {
      name: 'no-layer-importer',
      comment: 'every folder of src/ has its place in LAYERS (.dependency-cruiser.js)',
      severity: 'error',
      from: { path: '^src/', pathNot: anyOf(known) },
      to: {},
    },
  ],
  options: {
    includeOnly: '^src/',
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};

export { LAYERS };
