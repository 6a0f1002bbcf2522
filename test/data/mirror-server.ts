import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Registry } from '../../src/data/registry.js';

/**
 * A loopback HTTP server laid out like raw.githubusercontent.com: GET /<owner>/<repo>/<commit>/<path>
 * serves a pack file from a data folder (or an extra body, e.g. a generated upstream source), with faults
 * injected per path: a corrupted body, 404, a first attempt answered 503, a first attempt that never
 * answers (the client's timeout must fire), a first attempt cut off mid-body.
 */

export type Fault = 'corrupt' | 'not-found' | 'fail-once-503' | 'hang-once' | 'reset-once';

export class MirrorServer {
  private server: Server | undefined;
  private readonly files = new Map<string, Buffer>();
  private readonly faults = new Map<string, Fault>();
  private readonly hits = new Map<string, number>();
  private readonly hanging = new Set<import('node:http').ServerResponse>();
  url = '';

  /** Serves every registry file found in `dataDir` (`<pack>/<path>`) under its upstream path. */
  constructor(registry: Registry, dataDir: string) {
    for (const pack of registry.packs) {
      for (const file of pack.files) {
        if (file.kind === 'derived') continue; // only their sources are upstream
        try {
          this.files.set(
            this.key(pack.repo, (file.kind === 'upstream' && file.commit) || pack.commit, file.path),
            readFileSync(path.join(dataDir, pack.name, file.path)),
          );
        } catch {
          // not in this data folder: the server answers 404
        }
      }
    }
  }

  key(repo: string, commit: string, file: string): string {
    return `/${repo}/${commit}/${file}`;
  }

  /** Adds or replaces the body served at an upstream path. */
  serve(urlPath: string, body: string | Buffer): this {
    this.files.set(urlPath, Buffer.from(body));
    return this;
  }

  fault(urlPath: string, fault: Fault | undefined): this {
    if (fault) this.faults.set(urlPath, fault);
    else this.faults.delete(urlPath);
    return this;
  }

  /** Requests received for a path. */
  count(urlPath: string): number {
    return this.hits.get(urlPath) ?? 0;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const urlPath = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const n = (this.hits.get(urlPath) ?? 0) + 1;
      this.hits.set(urlPath, n);
      const body = this.files.get(urlPath);
      const fault = this.faults.get(urlPath);
      if (!body || fault === 'not-found') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('404: Not Found');
        return;
      }
      if (fault === 'fail-once-503' && n === 1) {
        res.writeHead(503, { 'retry-after': '0' }).end('busy');
        return;
      }
      if (fault === 'hang-once' && n === 1) {
        this.hanging.add(res); // never answered; closed when the server stops
        return;
      }
      if (fault === 'reset-once' && n === 1) {
        res.writeHead(200, { 'content-length': body.length });
        res.write(body.subarray(0, Math.floor(body.length / 2)), () => req.socket.destroy());
        return;
      }
      let out = body;
      if (fault === 'corrupt') {
        out = Buffer.from(body);
        const mid = Math.floor(out.length / 2);
        out[mid] = (out[mid] ?? 0) ^ 0x20; // same size, one flipped bit: only the sha256 can tell
      }
      res
        .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': out.length })
        .end(out);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
