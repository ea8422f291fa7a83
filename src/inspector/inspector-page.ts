/**
 * The inspector's one page: HTML, CSS and script in a single string, nothing loaded from
 * anywhere but the inspector itself (no CDN, no font, no image), so no request leaves the machine.
 */
import { inspectorModelKit } from './inspector-model.js';
import { PAGE_SCRIPT } from './page-script.js';

export interface PageConfig {
  mode: 'live' | 'replay';
  window: number;
}

const STYLE = `
  :root { font: 13px/1.4 system-ui, sans-serif; color: #1d232b; background: #f6f7f9; }
  body { margin: 0; }
  header { padding: 8px 16px; background: #1d232b; color: #fff; display: flex; gap: 16px; align-items: baseline; }
  header h1 { font-size: 15px; margin: 0; }
  main { display: grid; grid-template-columns: minmax(260px, 1fr) 3fr; gap: 12px; padding: 12px 16px; }
  section { background: #fff; border: 1px solid #dde1e6; border-radius: 6px; padding: 8px 12px; overflow: auto; }
  section h2 { font-size: 13px; margin: 0 0 6px; text-transform: uppercase; letter-spacing: .05em; color: #5a6573; }
  .wide { grid-column: 1 / -1; }
  .banner { padding: 8px 16px; font-weight: 600; }
  .banner.ended { background: #e3f1e6; color: #1e5a2c; }
  .banner.gone { background: #fdecea; color: #8a1c12; }
  .banner.replay { background: #e8f0fe; color: #1a3f8a; }
  .muted { color: #7a8594; }
  .error { color: #b3261e; }
  .tree, .tree ul, .members { list-style: none; padding-left: 14px; margin: 2px 0; }
  .lifecycle { padding: 0 6px; border-radius: 8px; background: #e9ecef; }
  .state-serving { background: #d3f0da; color: #1e5a2c; }
  .state-unavailable, .state-closed { background: #fbd9d5; color: #8a1c12; }
  .state-connecting, .state-recovering, .state-probing { background: #fff1c2; color: #6b5000; }
  .lifecycle.past { opacity: .6; font-size: 11px; }
  .fallback { color: #6d3fc0; font-weight: 600; }
  .chart > summary { cursor: pointer; font-weight: 600; margin: 4px 0; }
  .state { border: 1px solid #b8c0cc; border-radius: 8px; padding: 4px 8px; margin: 4px; background: #fff; min-width: 90px; }
  .state.parallel > .children { border-top: 1px dashed #b8c0cc; }
  .state.final { border-width: 3px; border-style: double; }
  .state.active { border-color: #1a73e8; background: #e8f0fe; box-shadow: 0 0 0 2px #1a73e8 inset; }
  .state.last-target { outline: 2px solid #f29900; }
  .state-name { font-weight: 600; }
  .children { display: flex; flex-wrap: wrap; align-items: flex-start; }
  .transitions { list-style: none; margin: 2px 0; padding: 0; font-size: 11px; color: #4a5562; }
  .transition.last { color: #b36b00; font-weight: 700; }
  .transition.last::before { content: '▶ '; }
  .guard { color: #6d3fc0; }
  .tag { font-size: 10px; color: #7a8594; font-weight: 400; }
  .lane { display: flex; align-items: center; margin: 3px 0; }
  .lane-name { width: 160px; flex: none; font-weight: 600; overflow: hidden; text-overflow: ellipsis; }
  .lane-bars { position: relative; flex: 1; height: 20px; background: #f0f2f5; border-radius: 4px; }
  .bar { position: absolute; top: 2px; height: 16px; border-radius: 3px; font-size: 10px; color: #fff; overflow: hidden; white-space: nowrap; padding: 0 3px; box-sizing: border-box; }
  .bar.busy { background: #f29900; }
  .bar.done { background: #1e8e3e; }
  .bar.failed { background: #d93025; }
  .bar.fallback { background: #6d3fc0; }
  .bus-row summary { cursor: pointer; font-family: ui-monospace, monospace; }
  .bus-row pre { background: #f6f7f9; padding: 6px; max-height: 320px; overflow: auto; }
  .seq { color: #7a8594; }
  #replay { padding: 8px 16px; background: #fff; border-bottom: 1px solid #dde1e6; }
  #scrubber { width: 60%; vertical-align: middle; }
`;

const BODY = `
  <header><h1>Ensemble inspector</h1><span id="run"></span></header>
  <div id="banner" class="banner" hidden></div>
  <div id="replay" hidden><label>event <input id="scrubber" type="range" min="0" max="0" value="0"></label> <span id="position"></span></div>
  <main>
    <section><h2>Actors</h2><div id="tree"></div></section>
    <section><h2>Timeline</h2><div id="timeline"></div></section>
    <section class="wide"><h2>Statecharts</h2><div id="charts"></div></section>
    <section class="wide"><h2>Bus events</h2><input id="filter" placeholder="filter by type (task., server.state …)" size="40"><div id="bus"></div></section>
  </main>
`;

/** The whole page, with the shared reducer inlined. */
export function renderInspectorPage(config: PageConfig): string {
  // The reducer's source as compiled; a bundler may wrap named functions in `__name(…)`, which a
  // no-op stands for here.
  const kit = `var __name = function (fn) { return fn; };\nwindow.__inspectorKit = (${inspectorModelKit.toString()})();`;
  const settings = `window.__inspectorConfig = ${JSON.stringify(config)};`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ensemble inspector</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>${STYLE}</style></head>
<body>${BODY}
<script>${settings}\n${kit}</script>
<script>${PAGE_SCRIPT}</script>
</body></html>
`;
}
