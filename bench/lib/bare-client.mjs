// The floor for the pipeline benchmark: a bare undici loop sending the requests refusenik sends (one chat
// completion per goal, same body shape, same concurrency) and parsing each JSON answer. No store, no judge.
//   node bench/lib/bare-client.mjs <base-url> <goals.jsonl> <concurrency>
// Prints {elapsed_s, cpu_ms, peak_rss_mb, requests} like refusenik's run summary `timing`.
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';

const [url, goalsFile, conc] = process.argv.slice(2);
const concurrency = Number(conc);
const goals = readFileSync(goalsFile, 'utf8')
  .split('\n')
  .filter(Boolean)
  .map((l) => JSON.parse(l).goal);
const agent = new Agent({ connections: concurrency, keepAliveTimeout: 30_000 });
const started = performance.now();
const cpuStart = process.cpuUsage();
let next = 0;
let ok = 0;
async function worker() {
  while (next < goals.length) {
    const goal = goals[next++];
    const res = await request(`${url}/chat/completions`, {
      method: 'POST',
      dispatcher: agent,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ model: 'bench', messages: [{ role: 'user', content: goal }] }),
    });
    const body = JSON.parse(await res.body.text());
    if (res.statusCode === 200 && body.choices?.[0]?.finish_reason) ok++;
  }
}
await Promise.all(Array.from({ length: concurrency }, worker));
const cpu = process.cpuUsage(cpuStart);
await agent.close();
process.stdout.write(
  `${JSON.stringify({
    requests: ok,
    elapsed_s: Number(((performance.now() - started) / 1000).toFixed(3)),
    cpu_ms: Math.round((cpu.user + cpu.system) / 1000),
    peak_rss_mb: Math.round(process.resourceUsage().maxRSS / 1024),
  })}\n`,
);
