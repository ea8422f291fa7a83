/**
 * The browser side of the inspector page, as plain JavaScript source (no DOM types in this
 * project's compiler settings). It folds the feed with the shared reducer (inlined by
 * `renderInspectorPage`) and draws the model. It never fetches anything but `/events`.
 */
export const PAGE_SCRIPT = String.raw`
(function () {
  var config = window.__inspectorConfig;
  var kit = window.__inspectorKit;
  var model = kit.createModel(config.window);
  var replayEvents = [];
  var ended = false;
  window.__inspectorModel = model;
  window.__inspectorEvents = replayEvents;

  function esc(value) {
    return String(value).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function short(id) {
    var text = String(id).replace(/^#/, '');
    var parts = text.split('.');
    return parts.length > 1 ? parts.slice(1).join('.') : text;
  }
  function guardName(guard) {
    if (!guard) return '';
    if (typeof guard === 'string') return guard;
    if (typeof guard.type === 'string') return guard.type;
    return 'guard';
  }
  function valueText(value) {
    if (value === null || value === undefined) return '';
    if (typeof value === 'string') return value;
    try { return JSON.stringify(value); } catch (e) { return ''; }
  }

  var banner = document.getElementById('banner');
  function showBanner(text, kind) {
    banner.textContent = text;
    banner.className = 'banner ' + kind;
    banner.hidden = false;
  }

  function drawState(node, active, last, isRoot) {
    var id = node.id;
    var classes = ['state'];
    if (active[id]) classes.push('active');
    if (last && last.targets.indexOf('#' + id) !== -1) classes.push('last-target');
    if (last && last.sources.indexOf('#' + id) !== -1) classes.push('last-source');
    if (node.type === 'final') classes.push('final');
    if (node.type === 'parallel') classes.push('parallel');
    var html = '<div class="' + classes.join(' ') + '" data-state-id="' + esc(id) + '">';
    html += '<div class="state-name">' + esc(isRoot ? id : node.key) + (node.type === 'parallel' ? ' <span class="tag">parallel</span>' : '') + '</div>';
    var transitions = Array.isArray(node.transitions) ? node.transitions : [];
    if (transitions.length) {
      html += '<ul class="transitions">';
      for (var i = 0; i < transitions.length; i++) {
        var t = transitions[i];
        var targets = Array.isArray(t.target) ? t.target.map(short).join(', ') : '';
        var isLast = last && last.eventType === t.eventType && last.sources.indexOf('#' + id) !== -1;
        var guard = guardName(t.guard);
        html += '<li class="transition' + (isLast ? ' last' : '') + '">' + esc(t.eventType) + (guard ? ' <span class="guard">[' + esc(guard) + ']</span>' : '') + (targets ? ' → ' + esc(targets) : '') + '</li>';
      }
      html += '</ul>';
    }
    var keys = node.states ? Object.keys(node.states) : [];
    if (keys.length) {
      html += '<div class="children">';
      for (var k = 0; k < keys.length; k++) html += drawState(node.states[keys[k]], active, last, false);
      html += '</div>';
    }
    return html + '</div>';
  }

  var chartCache = {};
  function drawCharts() {
    var html = '';
    for (var i = 0; i < model.actorOrder.length; i++) {
      var actor = model.actors[model.actorOrder[i]];
      if (!actor || !actor.definition) continue;
      // A chart is redrawn only when its actor's state or last transition changed.
      var key = actor.status + '|' + valueText(actor.value) + '|' + valueText(actor.lastTransition);
      var cached = chartCache[actor.sessionId];
      if (cached && cached.key === key && cached.definition === actor.definition) { html += cached.html; continue; }
      var start = html.length;
      var active = {};
      var ids = kit.activeStateIds(actor.definition, actor.value);
      for (var j = 0; j < ids.length; j++) active[ids[j]] = true;
      html += '<details class="chart" open data-actor="' + esc(actor.name) + '" data-active="' + esc(ids.join(' ')) + '"><summary>' + esc(actor.name) + ' <span class="muted">' + esc(actor.status) + ' · ' + esc(valueText(actor.value)) + '</span></summary>';
      html += drawState(actor.definition, active, actor.lastTransition, true) + '</details>';
      chartCache[actor.sessionId] = { key: key, definition: actor.definition, html: html.slice(start) };
    }
    return html || '<p class="muted">no machine yet</p>';
  }

  function memberName(actorName) {
    var match = /^server:(.+)$/.exec(actorName);
    return match ? match[1] : undefined;
  }
  function drawTree() {
    var children = {};
    var roots = [];
    for (var i = 0; i < model.actorOrder.length; i++) {
      var actor = model.actors[model.actorOrder[i]];
      if (actor.parentId && model.actors[actor.parentId]) (children[actor.parentId] = children[actor.parentId] || []).push(actor);
      else roots.push(actor);
    }
    function item(actor) {
      var member = memberName(actor.name);
      var view = member ? model.members[member] : undefined;
      var html = '<li data-actor-name="' + esc(actor.name) + '">';
      html += '<span class="actor-name">' + esc(actor.name) + '</span> ';
      if (view) {
        html += '<span class="lifecycle state-' + esc(view.state) + '" data-member="' + esc(member) + '" data-state="' + esc(view.state) + '">' + esc(view.state) + '</span>';
        if (view.pid) html += ' <span class="muted">pid ' + esc(view.pid) + '</span>';
        if (view.error) html += ' <span class="error">' + esc(view.error) + '</span>';
        var fallbacks = model.fallbacks[view.server];
        if (fallbacks && fallbacks.length && view.state !== 'serving') html += ' <span class="fallback" data-fallback="' + esc(view.server) + '">served by ' + esc(fallbacks.join(', ')) + '</span>';
      } else {
        html += '<span class="muted">' + esc(actor.status) + (actor.value !== null && actor.value !== undefined ? ' · ' + esc(valueText(actor.value)) : '') + '</span>';
      }
      var kids = children[actor.sessionId] || [];
      if (kids.length) html += '<ul>' + kids.map(item).join('') + '</ul>';
      return html + '</li>';
    }
    var html = '<ul class="tree">' + roots.map(item).join('') + '</ul>';
    var memberIds = Object.keys(model.members);
    if (memberIds.length) {
      html += '<h3>servers</h3><ul class="members">';
      for (var m = 0; m < memberIds.length; m++) {
        var view = model.members[memberIds[m]];
        var fb = model.fallbacks[view.server];
        var trail = view.trail.slice(0, -1).map(function (state) { return '<span class="lifecycle past state-' + esc(state) + '">' + esc(state) + '</span> → '; }).join('');
        html += '<li class="member" data-member-row="' + esc(view.member) + '" data-state="' + esc(view.state) + '" data-trail="' + esc(view.trail.join(' ')) + '">' + esc(view.member) + ' ' + trail + '<span class="lifecycle state-' + esc(view.state) + '">' + esc(view.state) + '</span>' + (fb && fb.length ? ' <span class="fallback" data-fallback="' + esc(view.server) + '">fallback: ' + esc(fb.join(', ')) + '</span>' : '') + '</li>';
      }
      html += '</ul>';
    }
    return html;
  }

  function drawTimeline() {
    if (!model.calls.length) return '<p class="muted">no task yet</p>';
    // The most recent calls only: thousands of bars would cost every redraw and show nothing more.
    var first = Math.max(0, model.calls.length - 400);
    var t0 = model.calls[first].startedAt;
    var span = Math.max(1, model.now - t0);
    var lanes = {};
    var order = [];
    for (var i = first; i < model.calls.length; i++) {
      var call = model.calls[i];
      var lane = call.worker ? call.server + ' · ' + call.worker : call.server;
      if (!lanes[lane]) { lanes[lane] = []; order.push(lane); }
      lanes[lane].push(call);
    }
    var html = '';
    for (var l = 0; l < order.length; l++) {
      html += '<div class="lane"><div class="lane-name">' + esc(order[l]) + '</div><div class="lane-bars">';
      var calls = lanes[order[l]];
      for (var c = 0; c < calls.length; c++) {
        var bar = calls[c];
        var end = bar.endedAt === undefined ? model.now : bar.endedAt;
        var left = ((bar.startedAt - t0) / span) * 100;
        var width = Math.max(0.5, ((end - bar.startedAt) / span) * 100);
        var label = bar.task + ' ' + bar.tool + (bar.servedBy ? ' (by ' + bar.servedBy + ')' : '') + ' ' + (end - bar.startedAt) + ' ms';
        html += '<div class="bar ' + esc(bar.status) + (bar.servedBy ? ' fallback' : '') + '" data-call-id="' + bar.id + '" data-task="' + esc(bar.task) + '" data-status="' + esc(bar.status) + '" title="' + esc(label) + '" style="left:' + left.toFixed(2) + '%;width:' + width.toFixed(2) + '%">' + esc(bar.task) + '</div>';
      }
      html += '</div></div>';
    }
    return html;
  }

  var filterInput = document.getElementById('filter');
  var openRows = {};
  function drawBus() {
    var filter = filterInput.value.trim().toLowerCase();
    var rows = model.bus;
    var html = '';
    var shown = 0;
    for (var i = rows.length - 1; i >= 0 && shown < 200; i--) {
      var row = rows[i];
      if (filter && row.type.toLowerCase().indexOf(filter) === -1) continue;
      shown++;
      var summary = row.event.task && row.event.task.id ? row.event.task.id : row.event.server || row.event.phase || row.event.status || '';
      html += '<details class="bus-row" data-seq="' + row.seq + '" data-type="' + esc(row.type) + '"' + (openRows[row.seq] ? ' open' : '') + '><summary><span class="seq">#' + row.seq + '</span> <b>' + esc(row.type) + '</b> ' + esc(summary) + '</summary><pre>' + (openRows[row.seq] ? esc(JSON.stringify(row.event, null, 2)) : '') + '</pre></details>';
    }
    return html || '<p class="muted">no event</p>';
  }
  document.getElementById('bus').addEventListener('toggle', function (e) {
    var seq = e.target && e.target.getAttribute && e.target.getAttribute('data-seq');
    if (seq === null || seq === undefined) return;
    if (!e.target.open) { delete openRows[seq]; return; }
    openRows[seq] = true;
    // The full JSON is written only when a row is opened: most rows never are.
    for (var i = model.bus.length - 1; i >= 0; i--) {
      if (String(model.bus[i].seq) !== seq) continue;
      e.target.querySelector('pre').textContent = JSON.stringify(model.bus[i].event, null, 2);
      break;
    }
  }, true);
  filterInput.addEventListener('input', function () { render(); });

  var shownHtml = {};
  function setHtml(id, html) {
    if (shownHtml[id] === html) return;
    shownHtml[id] = html;
    document.getElementById(id).innerHTML = html;
  }
  function render() {
    var run = model.run;
    document.getElementById('run').textContent = (run.workflow || 'waiting for a run') + (run.pattern ? ' · ' + run.pattern : '') + ' · ' + run.status + (run.phase ? ' · ' + run.phase : '') + ' · ' + model.count + ' events';
    setHtml('tree', drawTree());
    setHtml('charts', drawCharts());
    setHtml('timeline', drawTimeline());
    setHtml('bus', drawBus());
    document.body.setAttribute('data-count', String(model.count));
    if (model.ended && !ended && config.mode === 'live') showBanner('run ended (' + run.status + '): this is its final state', 'ended');
  }
  var scheduled = false;
  function scheduleRender() {
    if (scheduled) return;
    scheduled = true;
    // At most four redraws a second: a busy run sends thousands of events.
    setTimeout(function () { scheduled = false; render(); }, 250);
  }

  function modelAt(count) {
    if (count < model.count) { model = kit.createModel(config.window); }
    for (var i = model.count; i < count && i < replayEvents.length; i++) kit.applyEvent(model, replayEvents[i]);
    window.__inspectorModel = model;
    return model;
  }
  function setupScrubber() {
    var scrubber = document.getElementById('scrubber');
    var position = document.getElementById('position');
    document.getElementById('replay').hidden = false;
    scrubber.max = String(replayEvents.length);
    scrubber.value = String(replayEvents.length);
    function step() {
      modelAt(Number(scrubber.value));
      var current = replayEvents[Number(scrubber.value) - 1];
      position.textContent = scrubber.value + ' / ' + replayEvents.length + (current ? ' · ' + current.type : '');
      render();
    }
    scrubber.addEventListener('input', step);
    step();
    showBanner('replay of a finished run: drag the scrubber to step through it event by event', 'replay');
  }

  var source = new EventSource('/events');
  source.onmessage = function (message) {
    var event = JSON.parse(message.data);
    if (config.mode === 'replay') { replayEvents.push(event); return; }
    kit.applyEvent(model, event);
    scheduleRender();
  };
  source.addEventListener('end', function () {
    source.close();
    if (config.mode === 'replay') { setupScrubber(); return; }
    ended = true;
    render();
    showBanner('run ended, inspector gone: the page shows the last state it saw', 'gone');
  });
  source.onerror = function () {
    source.close();
    if (config.mode === 'replay' && !replayEvents.length) { showBanner('inspector gone: the trace could not be loaded', 'gone'); return; }
    ended = true;
    render();
    showBanner('inspector gone: the run ended or the server stopped; the page shows the last state it saw', 'gone');
  };
  render();
})();
`;
