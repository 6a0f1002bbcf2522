import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

// The layer rule itself runs in `npm run lint` (depcruise); this keeps its list, src/ and the README in step.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const config = pathToFileURL(path.join(root, '.dependency-cruiser.js')).href;
const { LAYERS } = (await import(config)) as { LAYERS: [string, string][] };

describe('layers', () => {
  it('places every folder of src/ in the layer order', () => {
    const folders = readdirSync(path.join(root, 'src'), { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
    const layers = LAYERS.map(([name]) => name);
    expect(layers[0]).toBe('core');
    expect([...folders].sort()).toEqual(layers.slice(1).sort());
  });

  it("draws the README's layout table from the rule: same layers, same order, same lines", () => {
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const rows = [...readme.matchAll(/^ {2}\| (\d+) \| `([a-z]+)` \| (.*) \|$/gm)].map((m) => [
      Number(m[1]),
      m[2],
      m[3],
    ]);
    expect(rows).toEqual(LAYERS.map(([name, what], i) => [i, name, what]));
  });
});
