import { chmodSync, cpSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BUILTIN_REGISTRY, type Registry } from '../../src/data/registry.js';
import { sha256 } from '../../src/util/hash.js';
import { DATA_DIR } from '../helpers/cli.js';
import { MirrorServer } from './mirror-server.js';
import { commonPy, judgePy, systemPromptsPy, type JudgeJson, type PairJson } from './upstream-sources.js';

/** The shared data folder, its derived JSON files, and a mirror that serves upstream-shaped sources for them. */

export const SHARED = DATA_DIR;
export const JUDGE_JSON = path.join(SHARED, 'codeattack/judge/qi2023_gpt4_judge.json');
export const PAIR_JSON = path.join(SHARED, 'pair/prompts/pair_system_prompts.json');

export function sharedJudge(): JudgeJson {
  return JSON.parse(readFileSync(JUDGE_JSON, 'utf8')) as JudgeJson;
}

export function sharedPair(): PairJson {
  return JSON.parse(readFileSync(PAIR_JSON, 'utf8')) as PairJson;
}

/** Upstream-shaped sources generated from the shared prompt strings, by upstream path per pack. */
export function generatedSources(): Record<'codeattack' | 'pair', Record<string, string>> {
  const pair = sharedPair();
  return {
    codeattack: { 'judge.py': judgePy(sharedJudge()) },
    pair: { 'system_prompts.py': systemPromptsPy(pair), 'common.py': commonPy(pair) },
  };
}

/**
 * The built-in registry with the generated sources' sha256 in place of the real upstream ones: what a
 * private mirror would publish with `--registry`. Every pack file keeps its real sha256.
 */
export function mirrorRegistry(sources = generatedSources()): Registry {
  const copy = structuredClone(BUILTIN_REGISTRY);
  for (const pack of copy.packs) {
    for (const file of pack.files) {
      if (file.kind !== 'derived') continue;
      const generated = sources[pack.name as keyof typeof sources];
      for (const src of file.sources) src.sha256 = sha256(generated[src.path]!);
    }
  }
  return copy;
}

export function writeRegistry(dir: string, registry: Registry, name = 'registry.json'): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(registry, null, 2));
  return file;
}

/** A started mirror serving the shared files and the generated sources. */
export async function startMirror(registry: Registry, sources = generatedSources()): Promise<MirrorServer> {
  const server = new MirrorServer(registry, SHARED);
  for (const pack of registry.packs) {
    const generated = sources[pack.name as keyof typeof sources];
    if (!generated) continue;
    for (const [p, text] of Object.entries(generated))
      server.serve(server.key(pack.repo, pack.commit, p), text);
  }
  return server.start();
}

/** URL path of a pack file on the mirror. */
export function upstreamPath(registry: Registry, packName: string, file: string): string {
  const pack = registry.packs.find((p) => p.name === packName)!;
  return `/${pack.repo}/${pack.commit}/${file}`;
}

/** Copies a pack folder out of the (read-only) shared folder, writable, so a test can damage it. */
export function copyPack(dir: string, packName: string): void {
  const dest = path.join(dir, packName);
  cpSync(path.join(SHARED, packName), dest, { recursive: true });
  chmodSync(dest, 0o755);
  for (const e of readdirSync(dest, { recursive: true, withFileTypes: true })) {
    chmodSync(path.join(e.parentPath, e.name), e.isDirectory() ? 0o755 : 0o644);
  }
}
