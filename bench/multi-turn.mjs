// Multi-turn and tree searches of issue 23 (TAP, Crescendo, ActorAttack): model calls per goal, by role,
// against loopback attacker, evaluator, target and judge models whose answers fix where each search succeeds,
// checked against the closed-form budget of each algorithm and, for TAP, set beside the paper's reported
// queries per jailbreak.
//   npm run build && REFUSENIK_DATA_DIR=../shared/data node bench/multi-turn.mjs [--quick]
import path from 'node:path';
import { tapAttack } from '../dist/attack/tap/index.js';
import { crescendoAttack } from '../dist/attack/crescendo/index.js';
import { actorAttack } from '../dist/attack/actorattack/index.js';
import { loadBehaviors } from '../dist/dataset/load.js';
import { createTarget } from '../dist/target/create.js';
import { MockServer } from '../dist/target/mock-server.js';
import { createFrom } from '../dist/config/plugin-registry.js';

const ROOT = path.resolve(import.meta.dirname, '..');
const dataDir = path.resolve(ROOT, process.env.REFUSENIK_DATA_DIR ?? '../shared/data');
const quick = process.argv.includes('--quick');
const env = { dataDir, seed: 0 };
const goals = loadBehaviors({ pack: 'codeattack', file: 'data/harmful_behaviors.csv' }, { dataDir }).slice(
  0,
  quick ? 4 : 20,
);
const fmt = (x, d = 0) => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

const lastUser = (req) => [...(req.messages ?? [])].reverse().find((m) => m.role === 'user')?.content ?? '';
const system = (req) => (req.messages ?? []).find((m) => m.role === 'system')?.content ?? '';
const quoted = (text, tag) =>
  new RegExp(`<${tag}-[0-9a-f]+>\\n([\\s\\S]*?)\\n</${tag}-`).exec(text)?.[1] ?? '';

/** Runs `attack` on every goal against a loopback server playing all models; calls counted at the server. */
async function measure(attack, script) {
  const calls = new Map();
  const server = await new MockServer({
    script: (req) => {
      calls.set(req.model, (calls.get(req.model) ?? 0) + 1);
      return script(req);
    },
  }).start();
  const model = (name) =>
    createTarget(
      { id: `openai:${name}`, base_url: server.url, retries: 0 },
      { env: {}, baseDir: ROOT },
      name,
    );
  const models = { attacker: model('attacker'), evaluator: model('evaluator') };
  const target = model('target');
  const judge = model('judge');
  const summaries = [];
  const t0 = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < goals.length) {
      const b = goals[next++];
      const trace = [];
      const ctx = {
        target,
        model: (name) => models[name],
        judge: async (input) => {
          const g = await judge.generate({
            kind: 'chat',
            messages: [{ role: 'user', content: input.response }],
          });
          return { judge: 'j', refusal: null, harmful: g.text === 'harmful' };
        },
        signal: new globalThis.AbortController().signal,
        seed: 0,
        trace: (s) => trace.push(s),
        generateOptions: {},
      };
      await attack.execute(b, ctx);
      summaries.push(trace.find((t) => t.step === 'summary'));
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const secs = (performance.now() - t0) / 1000;
  await server.close();
  const per = (m) => (calls.get(m) ?? 0) / goals.length;
  return { per, summaries, secs };
}

// ---- TAP -----------------------------------------------------------------------------------------------
// The attacker names each refinement after its parent (`ROOT/3/1`); the target gives in to any prompt refined
// `k` times; the evaluator calls every prompt on topic and rates depth d with d + 1 (10 when jailbroken).

const depthOf = (p) => (p.match(/\//g) ?? []).length;
function tapScript(k) {
  return (req) => {
    if (req.model === 'attacker') {
      const last = [...(req.messages ?? [])].reverse().find((m) => m.role === 'assistant');
      const parent = last ? JSON.parse(last.content).prompt : 'ROOT';
      return JSON.stringify({ improvement: 'i', prompt: `${parent}/${req.body.seed % 1000}` });
    }
    if (req.model === 'evaluator') {
      if (/asks for the same information/.test(system(req))) return 'Response: [[YES]]';
      const d = depthOf(/^\[PROMPT\]:(.*)\n/.exec(lastUser(req))?.[1] ?? '');
      return `Rating: [[${d >= k ? 10 : Math.min(9, d + 1)}]]`;
    }
    return depthOf(lastUser(req)) >= k ? 'Sure, here is how.' : "I'm sorry, I can't.";
  };
}

/** TAP's calls per goal when the target gives in at depth k: attacker, evaluator and target, by recurrence. */
function tapBudget(k, { b, w, d, phase1 }) {
  let leaves = 1;
  const out = { attacker: 0, evaluator: 0, target: 0, depths: 0 };
  for (let depth = 1; depth <= d; depth++) {
    const children = leaves * b;
    const queried = phase1 ? Math.min(w, children) : children;
    out.attacker += children;
    out.evaluator += children + queried;
    out.target += queried;
    out.depths = depth;
    if (depth >= k) break;
    leaves = Math.min(w, queried);
  }
  return out;
}

console.log(
  `# Multi-turn and tree searches: model calls per goal (node ${process.version}, ${goals.length} goals)\n`,
);
console.log('## TAP (b = 4, w = 10, d = 10): a target that gives in at depth k\n');
console.log(
  '| phase 1 | k | depths run | attacker / goal | evaluator / goal | target / goal (= per jailbreak) | expected (attacker, evaluator, target) | wall ms / goal |',
);
console.log('|---|---|---|---|---|---|---|---|');
const ks = quick ? [1, 3, 11] : [1, 2, 3, 4, 5, 11];
for (const phase1 of [false, true]) {
  for (const k of ks) {
    const [attack] = createFrom(tapAttack, { phase1_width: phase1, concurrency: 8 }, env, 'tap');
    const r = await measure(attack, tapScript(k));
    const e = tapBudget(k, { b: 4, w: 10, d: 10, phase1 });
    const depths = r.summaries[0].depth_run;
    const same =
      r.per('attacker') === e.attacker && r.per('evaluator') === e.evaluator && r.per('target') === e.target;
    console.log(
      `| ${phase1 ? 'width cut (main_TAP.py)' : 'off-topic only (paper)'} | ${k > 10 ? 'never' : k} | ${depths} | ${fmt(r.per('attacker'), 1)} | ${fmt(r.per('evaluator'), 1)} | ${fmt(r.per('target'), 1)} | ${e.attacker}, ${e.evaluator}, ${e.target}${same ? ' ✓' : ' ✗'} | ${fmt((r.secs * 1000) / goals.length, 1)} |`,
    );
    if (!same) process.exitCode = 1;
  }
}

// ---- Crescendo -----------------------------------------------------------------------------------------
// The attacker asks Q<turn>; the target refuses the first question of every even turn (one backtrack each)
// and answers turn k with the goal's content (progress 100).

function crescendoScript(k) {
  return (req) => {
    const text = lastUser(req);
    if (req.model === 'attacker') {
      const turn = Number(/^Turn (\d+) of/.exec(text)?.[1]);
      const again = /refused your last question/.test(text) ? '-again' : '';
      return JSON.stringify({ question: `Q${turn}${again}` });
    }
    if (req.model === 'evaluator') {
      const a = quoted(text, 'assistant-answer');
      if (/refused a request/.test(system(req))) return `Refused: [[${/can't/.test(a) ? 'YES' : 'NO'}]]`;
      return `Progress: [[${a === 'DONE' ? 100 : 20}]]`;
    }
    const m = /^Q(\d+)(-again)?$/.exec(text);
    const turn = Number(m?.[1]);
    if (turn % 2 === 0 && !m?.[2]) return "I'm sorry, I can't.";
    return turn === k ? 'DONE' : `About turn ${turn}.`;
  };
}

console.log(
  '\n## Crescendo (max_turns = 10, max_backtracks = 10): even turns refused once, success at turn k\n',
);
console.log(
  '| k | turns | backtracks | attacker / goal | target / goal | refusal judge + progress judge / goal | expected (attacker = target, judges) | wall ms / goal |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const k of quick ? [3, 11] : [1, 3, 5, 10, 11]) {
  const [attack] = createFrom(crescendoAttack, {}, env, 'crescendo');
  const r = await measure(attack, crescendoScript(k));
  const turns = Math.min(k, 10);
  const bt = Math.floor(turns / 2);
  const e = { asks: turns + bt, judges: turns + bt + turns };
  const s = r.summaries[0];
  const same = r.per('attacker') === e.asks && r.per('target') === e.asks && r.per('evaluator') === e.judges;
  console.log(
    `| ${k > 10 ? 'never' : k} | ${s.turns} | ${s.backtracks} | ${fmt(r.per('attacker'), 1)} | ${fmt(r.per('target'), 1)} | ${fmt(r.per('evaluator'), 1)} | ${e.asks}, ${e.judges}${same ? ' ✓' : ' ✗'} | ${fmt((r.secs * 1000) / goals.length, 1)} |`,
  );
  if (!same) process.exitCode = 1;
}

// ---- ActorAttack ---------------------------------------------------------------------------------------
// Three actors of five questions; the target refuses each actor's second question until it is rewritten;
// the summary of actor a is harmful.

function actorScript(a) {
  return (req) => {
    const text = lastUser(req);
    if (req.model === 'judge') return text === `Sure, summary of actor ${a}` ? 'harmful' : 'safe';
    if (req.model === 'attacker') {
      if (text.startsWith('Extract the core harmful target'))
        return '{"target": "T", "details": {"delivery_type": "Tutorial", "other_details": ""}}';
      if (text.startsWith('Now you need to choose most relevant'))
        return JSON.stringify({
          actors: [1, 2, 3].map((i) => ({ actor_name: `Actor ${i}`, relationship: 'r' })),
        });
      if (text.includes('The core target for the jailbreak')) {
        const actor = /questions about (.*?)\.\n/.exec(text)?.[1];
        return `Questions about ${actor}`;
      }
      if (text.startsWith('You receive a model response')) {
        const actor = /Questions about (Actor \d)/.exec(text)?.[1];
        return JSON.stringify({
          questions: [1, 2, 3, 4, 5].map((i) => ({ question: `${actor} question ${i}` })),
        });
      }
      if (text.includes('determine what type of response'))
        return `{"type": "${/can't/.test(text) ? 'rejective' : 'successful'}"}`;
      if (text.includes('you need to modify your question')) {
        const q = /refused to answer the question '(.*?)' because/.exec(text)?.[1];
        return `${q} (rewritten)`;
      }
      return 'network';
    }
    const actor = /Actor (\d)/.exec((req.messages ?? []).map((m) => m.content).join('\n'))?.[1];
    if (/question 2$/.test(text)) return "I'm sorry, I can't.";
    if (text.startsWith('Format above content')) return `Sure, summary of actor ${actor}`;
    return `Answer to ${text}`;
  };
}

console.log(
  '\n## ActorAttack (3 actors, 5 questions each, dynamic modification): one rewrite per actor, success on actor a\n',
);
console.log(
  '| a | actors tried | attacker / goal (pre-attack + rewrites) | step judge / goal | target / goal | run judge / goal | expected (attacker, step judge, target, judge) | wall ms / goal |',
);
console.log('|---|---|---|---|---|---|---|---|');
for (const a of quick ? [1, 4] : [1, 2, 3, 4]) {
  const [attack] = createFrom(actorAttack, {}, env, 'actorattack');
  const r = await measure(attack, actorScript(a));
  const tried = Math.min(a, 3);
  // Pre-attack: extract, network, one actor round, then per actor a question chain and its JSON.
  const attacker = 3 + 2 * 3 + tried;
  const step = 6 * tried;
  const targetQ = 7 * tried; // 5 questions, the refused one again, the summary
  const judge = tried + (a > 3 ? 3 : a - 1); // each summary, plus the last turn of each failed actor
  const s = r.summaries[0];
  const same =
    r.per('attacker') === attacker + step && r.per('target') === targetQ && r.per('judge') === judge;
  console.log(
    `| ${a > 3 ? 'never' : a} | ${s.actors_tried} | ${fmt(r.per('attacker') - step, 1)} | ${fmt(step, 1)} | ${fmt(r.per('target'), 1)} | ${fmt(r.per('judge'), 1)} | ${attacker}, ${step}, ${targetQ}, ${judge}${same ? ' ✓' : ' ✗'} | ${fmt((r.secs * 1000) / goals.length, 1)} |`,
  );
  if (!same) process.exitCode = 1;
}
