/**
 * The HTML report's in-page script (it runs in the browser, not in Node). It reads the report data from the
 * page's `<script type="application/json">` block and builds every element with DOM calls: all data goes in
 * through `textContent` and `setAttribute`, never through HTML parsing, so hostile model output stays text.
 * Charts are plain SVG; the line charts come from src/report/chart, the builder the loop's static pages use
 * too. The case list renders one page at a time and builds a case's details only when it is opened, so a
 * 10k-case run stays responsive.
 *
 * This is the entry of the page script: `npm run build` type-checks src/report/browser with
 * tsconfig.browser.json (DOM, no Node) and bundles it with esbuild into one classic script (an IIFE, no
 * import or export left), dist/report/browser/client.js, which src/report/html.ts inlines in a `<script>`
 * element. Modules here import values only from this folder and src/report/chart (eslint.config.js): the
 * Node modules they read types from are type-only imports, erased by the bundler.
 */
import { renderAgreement } from './agreement.js';
import { renderAsrChart } from './asr-chart.js';
import { renderCases } from './cases.js';
import { renderCategories } from './categories.js';
import { renderBon, renderDepth } from './curves.js';
import { renderHeader } from './header.js';
import { renderMeta } from './meta.js';
import { renderPositions } from './positions.js';
import { loadReport } from './state.js';
import { renderSummary } from './summary.js';

const report = loadReport();
renderHeader(report);
renderSummary(report);
renderAsrChart(report);
renderDepth(report);
renderBon(report);
renderPositions(report);
renderAgreement(report);
renderCategories(report);
renderCases(report);
renderMeta(report);
document.body.setAttribute('data-rendered', '1');
