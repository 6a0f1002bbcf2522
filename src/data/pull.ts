import { copyFile } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../errors.js';
import { sha256 } from '../util/hash.js';
import { Downloader, FetchError } from './download.js';
import { publishTemp, writeFileAtomic } from '../util/atomic-write.js';
import { checkFile, removeQuietly, tempPathFor, type FileState } from './files.js';
import { DEFAULT_BASE_URL, fileUrl, type DerivedFile, type Pack, type PackFile } from './registry.js';
import { runRecipe } from './recipes.js';

/**
 * `data pull`: brings pack files into a data folder. Files already there with the right sha256 are kept;
 * others are downloaded (or copied from a local folder, or derived by a recipe) into a temporary file next to
 * the target, checked against the registry, and only then renamed into place. A file that fails its check
 * is discarded and reported; a good file is never replaced by a bad one.
 */

export type PullStatus = 'present' | 'downloaded' | 'copied' | 'derived' | 'failed' | 'unavailable';

export interface PullFileResult {
  pack: string;
  path: string;
  kind: PackFile['kind'];
  status: PullStatus;
  /** Where the bytes came from: a URL or local file (for derived files, their sources' URLs). */
  from?: string[];
  expectedSha256: string;
  expectedBytes: number;
  /** What was received, when it was received but rejected. */
  actualSha256?: string;
  actualBytes?: number;
  /** Why the file could not be obtained. */
  message?: string;
}

export interface PullReport {
  dir: string;
  baseUrl: string;
  /** True when every file asked for is now in place and verified. */
  ok: boolean;
  packs: { name: string; commit: string }[];
  files: PullFileResult[];
}

export interface PullOptions {
  dir: string;
  baseUrl: string;
  /** A local folder in data-pack layout (`<pack>/<path>`), tried before the network. */
  from?: string;
  timeoutMs: number;
  retries: number;
  retryDelayMs: number;
  concurrency: number;
  /** Fetch again even when a file is present and verified. */
  force: boolean;
  /** Progress: called once with the number of files to obtain, then per finished file and per chunk. */
  onPlan?: (files: number) => void;
  onFileDone?: (result: PullFileResult) => void;
  onBytes?: (delta: number) => void;
}

/** Upstream sources of derived files are small Python files; anything bigger is not what we expect. */
const MAX_SOURCE_BYTES = 16 * 1024 * 1024;

export async function pullPacks(packs: Pack[], opts: PullOptions): Promise<PullReport> {
  const results: PullFileResult[] = [];
  const todo: { pack: Pack; file: PackFile; existing: FileState; index: number }[] = [];
  for (const pack of packs) {
    for (const file of pack.files) {
      const existing = await checkFile(path.join(opts.dir, pack.name, file.path), file);
      const result = baseResult(pack, file);
      results.push(result);
      if (existing.state === 'ok' && !opts.force) result.status = 'present';
      else todo.push({ pack, file, existing, index: results.length - 1 });
    }
  }
  opts.onPlan?.(todo.length);

  const downloader = new Downloader({
    timeoutMs: opts.timeoutMs,
    retries: opts.retries,
    retryDelayMs: opts.retryDelayMs,
    onBytes: opts.onBytes,
  });
  try {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < todo.length) {
        const job = todo[next++]!;
        const result = results[job.index]!;
        try {
          Object.assign(result, await obtain(job.pack, job.file, opts, downloader));
        } catch (err) {
          // Local trouble (permissions, disk): report it against the file rather than abort the others.
          Object.assign(result, {
            status: 'failed',
            message: `${label(job.pack, job.file)}: ${errorMessage(err)}`,
          });
        }
        if (result.status === 'failed' && job.existing.state !== 'missing') {
          result.message += existingNote(job.existing);
        }
        opts.onFileDone?.(result);
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, todo.length)) }, worker));
  } finally {
    await downloader.close();
  }
  return {
    dir: opts.dir,
    baseUrl: opts.baseUrl,
    ok: results.every((r) => !['failed', 'unavailable'].includes(r.status)),
    packs: packs.map((p) => ({ name: p.name, commit: p.commit })),
    files: results,
  };
}

type Outcome = Partial<PullFileResult> & { status: PullStatus };

async function obtain(pack: Pack, file: PackFile, opts: PullOptions, dl: Downloader): Promise<Outcome> {
  const target = path.join(opts.dir, pack.name, file.path);
  if (opts.from) {
    const local = path.resolve(opts.from, pack.name, file.path);
    if ((await checkFile(local, file)).state === 'ok') {
      const temp = await tempPathFor(target);
      try {
        await copyFile(local, temp);
        // Checked again after the copy: the source could have changed in between.
        const copied = await checkFile(temp, file);
        if (copied.state === 'ok') {
          publishTemp(temp, target);
          return { status: 'copied', from: [local] };
        }
      } finally {
        await removeQuietly(temp);
      }
    }
  }
  switch (file.kind) {
    case 'upstream':
      return download(pack, file, target, fileUrl(opts.baseUrl, pack, file.path, file.commit), dl);
    case 'mirror':
      if (isDefaultBase(opts.baseUrl)) {
        return {
          status: 'unavailable',
          message:
            `${label(pack, file)} is not published upstream as a file (${file.origin}). Get it from a mirror ` +
            `(--base-url or REFUSENIK_DATA_MIRROR; it serves <owner>/<repo>/<commit>/<path>) or a local copy ` +
            `(--from <dir> in data-pack layout); expected sha256 ${file.sha256}, ${file.bytes} bytes`,
        };
      }
      return download(pack, file, target, fileUrl(opts.baseUrl, pack, file.path), dl);
    case 'derived':
      return derive(pack, file, target, opts, dl);
  }
}

async function download(
  pack: Pack,
  file: PackFile,
  target: string,
  url: string,
  dl: Downloader,
): Promise<Outcome> {
  const temp = await tempPathFor(target);
  try {
    // Room for a somewhat larger wrong file, so the message can give its sha256; bounded all the same.
    const got = await dl.toFile(url, temp, Math.max(2 * file.bytes, file.bytes + 1024 * 1024));
    if (got.sha256 !== file.sha256 || got.bytes !== file.bytes) {
      return {
        status: 'failed',
        from: [url],
        actualSha256: got.sha256,
        actualBytes: got.bytes,
        message:
          `sha256 mismatch for ${label(pack, file)} from ${url}: expected ${file.sha256} (${file.bytes} bytes), ` +
          `got ${got.sha256} (${got.bytes} bytes); the download was discarded`,
      };
    }
    publishTemp(temp, target);
    return { status: 'downloaded', from: [url] };
  } catch (err) {
    if (!(err instanceof FetchError)) throw err;
    return { status: 'failed', from: [url], message: `${label(pack, file)}: ${url}: ${err.message}` };
  } finally {
    await removeQuietly(temp);
  }
}

async function derive(
  pack: Pack,
  file: DerivedFile,
  target: string,
  opts: PullOptions,
  dl: Downloader,
): Promise<Outcome> {
  const urls = file.sources.map((s) => fileUrl(opts.baseUrl, pack, s.path));
  const sources: { path: string; text: string }[] = [];
  for (const [i, src] of file.sources.entries()) {
    const url = urls[i]!;
    let got: Awaited<ReturnType<Downloader['toBuffer']>>;
    try {
      got = await dl.toBuffer(url, MAX_SOURCE_BYTES);
    } catch (err) {
      if (!(err instanceof FetchError)) throw err;
      return { status: 'failed', from: urls, message: `${label(pack, file)}: source ${url}: ${err.message}` };
    }
    if (src.sha256 && got.sha256 !== src.sha256) {
      return {
        status: 'failed',
        from: urls,
        message:
          `sha256 mismatch for ${label(pack, file)}'s source ${src.path} from ${url}: expected ${src.sha256}, ` +
          `got ${got.sha256} (${got.bytes} bytes); nothing was derived`,
      };
    }
    try {
      sources.push({ path: src.path, text: new TextDecoder('utf-8', { fatal: true }).decode(got.data) });
    } catch {
      return {
        status: 'failed',
        from: urls,
        message: `${label(pack, file)}: source ${url} is not UTF-8 text`,
      };
    }
  }
  let text: string;
  try {
    text = runRecipe(file.recipe, { repo: pack.repo, commit: pack.commit, sources });
  } catch (err) {
    return {
      status: 'failed',
      from: urls,
      message: `cannot derive ${label(pack, file)} (recipe ${file.recipe}): ${errorMessage(err)}`,
    };
  }
  const data = Buffer.from(text, 'utf8');
  const actual = sha256(data);
  if (actual !== file.sha256 || data.length !== file.bytes) {
    return {
      status: 'failed',
      from: urls,
      actualSha256: actual,
      actualBytes: data.length,
      message:
        `sha256 mismatch for ${label(pack, file)} derived by recipe ${file.recipe} from ${urls.join(', ')}: ` +
        `expected ${file.sha256} (${file.bytes} bytes), got ${actual} (${data.length} bytes); not saved ` +
        `(the sources differ from the pinned ones, or the recipe no longer matches them)`,
    };
  }
  writeFileAtomic(target, data);
  return { status: 'derived', from: urls };
}

function baseResult(pack: Pack, file: PackFile): PullFileResult {
  return {
    pack: pack.name,
    path: file.path,
    kind: file.kind,
    status: 'failed',
    expectedSha256: file.sha256,
    expectedBytes: file.bytes,
  };
}

function existingNote(existing: FileState): string {
  const what =
    existing.state === 'wrong-size'
      ? `${existing.bytes} bytes`
      : existing.state === 'wrong-sha256'
        ? `sha256 ${existing.sha256}`
        : 'a verified copy';
  return `; the file already there (${what}) was left unchanged`;
}

export function isDefaultBase(baseUrl: string): boolean {
  return baseUrl.replace(/\/+$/, '') === DEFAULT_BASE_URL;
}

function label(pack: Pack, file: PackFile): string {
  return `${pack.name}/${file.path}`;
}
