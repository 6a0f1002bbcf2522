import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { errorMessage, RuntimeFailure } from '../errors.js';
import { escapeMarkup } from './chart/svg.js';
import type { ReportData } from './report-data.js';

/**
 * The self-contained HTML report: one file, no network. The page holds no data in its markup: the report
 * data travels in a `<script type="application/json">` block (with `<`, `>`, `&`, U+2028/2029 escaped, so
 * no response can close the block) and the inline script renders it with DOM text APIs. A strict
 * Content-Security-Policy allows only this page's own script and style, by hash: even if markup were ever
 * injected, inline handlers, external scripts, images and requests would be refused.
 *
 * The inline script is src/report/browser/ (entry client.ts), type-checked by `npm run build` with
 * tsconfig.browser.json and bundled by esbuild (`npm run build:client`) into one classic script,
 * dist/report/browser/client.js, read from there when a page is rendered.
 */

export const REPORT_CSS = `
:root { --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #f8fafc; --card: #ffffff; --accent: #2563eb;
  --bad: #dc2626; --ok: #16a34a; --warn: #d97706; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
#app { max-width: 1200px; margin: 0 auto; padding: 16px 20px 60px; }
header.top h1 { font-size: 22px; margin: 8px 0 2px; overflow-wrap: anywhere; }
.sub { color: var(--muted); margin: 0 0 12px; overflow-wrap: anywhere; }
.stats { display: flex; gap: 12px; flex-wrap: wrap; margin-bottom: 10px; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 8px 14px; min-width: 120px; }
.stat-value { font-size: 20px; font-weight: 600; }
.stat-label { color: var(--muted); font-size: 12px; }
nav { display: flex; gap: 14px; flex-wrap: wrap; padding: 8px 0; border-bottom: 1px solid var(--line); }
nav a { color: var(--accent); text-decoration: none; }
section.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: 14px 18px; margin-top: 16px; }
section.card h2 { font-size: 17px; margin: 0 0 6px; }
.note { color: var(--muted); margin: 0 0 10px; }
.empty { color: var(--muted); font-style: italic; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { font-weight: 600; color: var(--muted); font-size: 12px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
svg.chart { width: 100%; height: auto; display: block; margin: 6px 0; }
svg.kappa { width: auto; max-width: 100%; }
svg .grid { stroke: var(--line); stroke-width: 1; }
svg .axis { fill: var(--muted); font-size: 11px; }
svg .label { fill: var(--fg); font-size: 12px; }
svg .value { fill: var(--fg); font-size: 11px; }
svg .whisker { stroke: #111827; stroke-width: 1.4; }
svg .curve { stroke-width: 2.2; }
svg .ci { stroke-width: 1.5; opacity: 0.55; }
svg .kline { stroke: var(--muted); stroke-dasharray: 4 4; }
svg .cell-text { font-size: 14px; fill: var(--fg); font-weight: 600; }
svg .mini-bg { fill: #eef2f7; }
.swatch { display: inline-block; vertical-align: middle; margin-right: 5px; }
.legend { display: flex; gap: 14px; flex-wrap: wrap; color: var(--muted); font-size: 12px; }
.controls button, .pager button { border: 1px solid var(--line); background: var(--card); border-radius: 6px; padding: 3px 10px; cursor: pointer; }
.controls button.on { background: var(--accent); color: #fff; border-color: var(--accent); }
.filters { display: flex; gap: 8px; flex-wrap: wrap; margin-bottom: 8px; }
.filters input, .filters select { padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; font: inherit; }
.filters input { flex: 1 1 260px; }
.pager { display: flex; gap: 10px; align-items: center; margin: 6px 0; }
.page-info { color: var(--muted); }
details.case { border: 1px solid var(--line); border-radius: 8px; margin: 6px 0; background: #fff; }
details.case > summary { cursor: pointer; padding: 7px 10px; display: flex; gap: 8px; flex-wrap: wrap; align-items: baseline; }
.case-no { color: var(--muted); font-variant-numeric: tabular-nums; }
.case-meta { color: var(--muted); font-size: 12px; }
.case-goal { flex: 1 1 300px; overflow-wrap: anywhere; }
.badge { font-size: 11px; border-radius: 10px; padding: 1px 8px; background: #eef2f7; color: var(--muted); white-space: nowrap; }
.badge.bad { background: #fee2e2; color: #991b1b; }
.badge.ok { background: #dcfce7; color: #166534; }
.badge.err { background: #fef3c7; color: #92400e; }
.case-body { padding: 4px 14px 12px; border-top: 1px solid var(--line); }
.case-body h4 { margin: 12px 0 4px; font-size: 13px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; background: #f3f4f6; border-radius: 6px; padding: 8px 10px; margin: 0;
  max-height: 420px; overflow: auto; font: 12.5px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre.error { background: #fef3c7; }
.role { font-size: 11px; text-transform: uppercase; color: var(--muted); margin: 6px 0 2px; letter-spacing: 0.04em; }
dl.kv { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.kv dt { color: var(--muted); }
dl.kv dd { margin: 0; overflow-wrap: anywhere; }
details.config, details.trace { margin-top: 10px; }
.turn { border-left: 3px solid var(--line); padding: 2px 0 6px 10px; margin: 8px 0; }
.turn-head { font-weight: 600; font-size: 12px; display: flex; gap: 6px; align-items: baseline; }
ul.tree { list-style: none; margin: 0; padding-left: 18px; border-left: 1px dashed var(--line); }
ul.tree > li { margin: 3px 0; }
details.node > summary { cursor: pointer; font-size: 12px; }
details.node.kept > summary { color: var(--ok); font-weight: 600; }
details.node.pruned > summary, details.node.off > summary { color: var(--muted); }
details.config > summary, details.trace > summary { cursor: pointer; color: var(--accent); }
`;

/** JSON that is safe inside a `<script>` element: no `<`, `>`, `&` or JS line separators survive raw. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

function cspHash(text: string): string {
  return `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;
}

/** A page's Content-Security-Policy: nothing but its own style (and script, when it has one), by hash. */
export function pagePolicy(css: string, script?: string): string {
  return [
    "default-src 'none'",
    ...(script !== undefined ? [`script-src ${cspHash(script)}`] : []),
    `style-src ${cspHash(css)}`,
    "img-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join('; ');
}

/**
 * The compiled in-page script, from the package root's dist/: this module is two folders below the root both
 * as dist/report/html.js and (under vitest) as src/report/html.ts.
 */
const CLIENT_JS_FILE = fileURLToPath(new URL('../../dist/report/browser/client.js', import.meta.url));
let clientJs: string | undefined;

/** The text of the page's script (read once): checked to be safe to inline and to run as a classic script. */
function clientScript(): string {
  if (clientJs !== undefined) return clientJs;
  let text: string;
  try {
    text = readFileSync(CLIENT_JS_FILE, 'utf8');
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new RuntimeFailure(
      `the HTML report's script ${CLIENT_JS_FILE} ${missing ? 'is missing' : `could not be read (${errorMessage(err)})`}: run \`npm run build\` in the package folder`,
      err,
    );
  }
  // Inside <script>, these would end the element early or change how the HTML parser reads the rest.
  if (/<\/script|<!--/i.test(text)) {
    throw new Error(
      `${CLIENT_JS_FILE} contains "</script" or "<!--": it cannot be inlined in a <script> element`,
    );
  }
  if (/^(import|export)\b/m.test(text)) {
    throw new Error(`${CLIENT_JS_FILE} has import/export statements: it must compile to a classic script`);
  }
  return (clientJs = text);
}

/** A self-contained page: its policy allows only its own style and script (by hash), no requests. */
export function htmlPage(o: {
  /** Plain text: escaped here. */
  title: string;
  css: string;
  /** Markup, already escaped by the caller. */
  body: string;
  script?: string;
  bodyAttributes?: string;
}): string {
  const csp = pagePolicy(o.css, o.script);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${escapeHtml(o.title)}</title>
<style>${o.css}</style>
</head>
<body${o.bodyAttributes ? ` ${o.bodyAttributes}` : ''}>
${o.body}${o.script !== undefined ? `\n<script>${o.script}</script>` : ''}
</body>
</html>
`;
}

/** Text for HTML element content and attribute values. */
export function escapeHtml(v: unknown): string {
  return escapeMarkup(String(v ?? '\u2013'));
}

export function renderHtml(data: ReportData): string {
  return htmlPage({
    title: 'refusenik report',
    css: REPORT_CSS,
    body: `<noscript>This report renders with JavaScript (inline, no network). Enable it to view the report.</noscript>
<main id="app"></main>
<script id="report-data" type="application/json">${jsonForScript(data)}</script>`,
    script: clientScript(),
  });
}
