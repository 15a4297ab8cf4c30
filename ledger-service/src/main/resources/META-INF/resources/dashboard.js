// The ledger's dashboard: plain browser JavaScript, no build step. It reads the ledger's own API every few
// seconds and redraws in place. With auth on it asks once for a read token and keeps it in this browser.
(() => {
  'use strict';
  const REFRESH_MS = 5000;
  const TOKEN_KEY = 'atelier.ledger.token';
  const STATES = ['pending', 'running', 'retry', 'success', 'failed', 'cancelled'];
  const thumbnails = new Map(); // artifact id -> object URL, fetched once
  let asking = false;

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  class AuthNeeded extends Error {}

  async function api(path, asBlob = false) {
    const token = localStorage.getItem(TOKEN_KEY);
    const response = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
    if (response.status === 401 || response.status === 403) throw new AuthNeeded();
    if (!response.ok) {
      let detail = response.statusText;
      try { detail = (await response.json()).detail || detail; } catch (ignored) { /* not JSON */ }
      throw new Error(path + ': ' + detail);
    }
    return asBlob ? response.blob() : response.json();
  }

  function askForToken() {
    if (asking) return;
    asking = true;
    const dialog = $('token-dialog');
    $('token-input').value = '';
    dialog.showModal();
  }

  function ago(iso) {
    if (!iso) return '';
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.round(s) + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  function duration(sec) {
    if (sec == null) return '';
    if (sec < 60) return sec.toFixed(1) + ' s';
    if (sec < 3600) return Math.floor(sec / 60) + ' min ' + Math.round(sec % 60) + ' s';
    return Math.floor(sec / 3600) + ' h ' + Math.round((sec % 3600) / 60) + ' min';
  }

  function renderTotals(summary) {
    const set = (state, n) => { $('totals').querySelector(`[data-state="${state}"] .value`).textContent = n.toLocaleString(); };
    set('total', summary.total_tasks);
    for (const s of STATES) set(s, summary.status_counts[s] || 0);
    $('updated').textContent = 'updated ' + new Date(summary.last_updated).toLocaleTimeString();
  }

  /** "deepseek-r1:32b (19.5 GiB VRAM, until 12:05)": what the GPU holds, and for how long keep_alive keeps it. */
  function loadedText(m) {
    const parts = [];
    if (m.size_vram > 0) parts.push((m.size_vram / 2 ** 30).toFixed(1) + ' GiB VRAM');
    if (m.expires_at) parts.push('until ' + new Date(m.expires_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    return m.name + (parts.length ? ' (' + parts.join(', ') + ')' : '');
  }

  function renderBackends(summary) {
    $('services').replaceChildren(...Object.entries(summary.services).map(([kind, status]) =>
      el('span', { class: 'service' }, kind + ' ', el('span', { class: 'pill ' + status, text: status }))));
    $('backends').replaceChildren(...summary.backends.map((b) => {
      const executor = summary.executors.find((e) => b.name.endsWith('@' + e.id));
      const slots = executor ? `${executor.busy[b.kind] || 0}/${executor.slots[b.kind] || 0} slots busy` : '';
      const draining = executor && executor.draining
        ? el('span', { class: 'pill degraded', title: 'stopping: claims nothing more, finishing or handing back what it holds', text: 'draining' }) : null;
      return el('li', { class: 'backend', 'data-backend': b.name },
        el('div', {}, el('strong', { text: b.name }), ' ', el('span', { class: 'pill ' + b.status, text: b.status }),
          draining ? ' ' : null, draining, el('span', { class: 'muted', text: '  ' + slots })),
        el('div', { class: 'models', text: b.models.length ? b.models.join(', ') : 'no models' }),
        (b.loaded || []).length ? el('div', { class: 'models loaded', text: 'loaded: ' + b.loaded.map(loadedText).join(', ') }) : null,
        b.detail ? el('div', { class: 'models', text: b.detail }) : null);
    }));
    $('backends-empty').hidden = summary.backends.length > 0;
  }

  function progressBar(counts, total) {
    const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(total) });
    let done = 0;
    for (const s of ['success', 'failed', 'cancelled', 'running', 'retry']) {
      const n = counts[s] || 0;
      if (s === 'success' || s === 'failed' || s === 'cancelled') done += n;
      if (n > 0 && total > 0) bar.append(el('span', { class: 'seg-' + s, style: `width:${(100 * n) / total}%`, title: `${n} ${s}` }));
    }
    bar.setAttribute('aria-valuenow', String(done));
    return bar;
  }

  function renderBatches(page) {
    $('batches').replaceChildren(...page.items.map((b) => {
      const done = b.status_counts.success + b.status_counts.failed + b.status_counts.cancelled;
      const failed = b.status_counts.failed ? ` · ${b.status_counts.failed} failed` : '';
      return el('li', { class: 'batch', 'data-batch-id': b.id },
        el('div', { class: 'batch-head' },
          el('span', { class: 'batch-name', text: b.name, title: b.id }),
          el('span', { class: 'batch-meta' }, `${done}/${b.total_tasks}${failed} · `, el('span', { class: 'pill ' + b.state, text: b.state }))),
        progressBar(b.status_counts, b.total_tasks),
        el('div', { class: 'batch-meta', text: `${b.mode} mode · batch priority ${b.priority} · ${Math.round(b.progress * 100)}% · ${ago(b.created_at)}` }));
    }));
    $('batches-empty').hidden = page.items.length > 0;
    return new Map(page.items.map((b) => [b.id, b.name]));
  }

  function jobLine(job, names, detail) {
    const batch = names.get(job.batch_id) || job.batch_id.slice(0, 8);
    return el('li', { 'data-job-id': job.id },
      el('span', { class: 'job-key', text: job.crew ? `${job.crew} · ${job.task}` : job.key }),
      el('span', { class: 'muted', text: `  ${batch} · ${job.type}` }),
      detail);
  }

  function renderFailures(page, names) {
    $('failures').replaceChildren(...page.items.map((j) =>
      jobLine(j, names, el('span', { class: 'error', text: j.error || '(no error recorded)' }))));
    $('failures-empty').hidden = page.items.length > 0;
  }

  function renderWaiting(page, names) {
    $('waiting').replaceChildren(...page.items.map((j) =>
      jobLine(j, names, el('span', { class: 'reason', text: j.waiting_reason || j.state }))));
    $('waiting-empty').hidden = page.items.length > 0;
  }

  async function renderArtifacts(page) {
    const images = page.items.filter((a) => a.content_type.startsWith('image/'));
    const figures = [];
    for (const a of images) {
      if (!thumbnails.has(a.id)) {
        // through the same authenticated request as everything else, so the token never goes into a URL; a small
        // picture the ledger makes once, or the image itself when it cannot (a format it does not read)
        let blob;
        try { blob = await api(a.url + '?size=256', true); } catch (e) { if (e instanceof AuthNeeded) throw e; }
        if (!blob) {
          try { blob = await api(a.url, true); } catch (e) { if (e instanceof AuthNeeded) throw e; continue; }
        }
        thumbnails.set(a.id, URL.createObjectURL(blob));
      }
      figures.push(el('figure', { 'data-artifact-id': a.id },
        el('img', { src: thumbnails.get(a.id), alt: a.name, loading: 'lazy' }),
        el('figcaption', { text: a.name, title: a.name })));
    }
    $('artifacts').replaceChildren(...figures);
    $('artifacts-empty').hidden = figures.length > 0;
  }

  async function refresh() {
    try {
      const [summary, batches, failures, waiting, artifacts] = await Promise.all([
        api('/api/v1/summary'),
        api('/api/v1/batches?limit=15'),
        api('/api/v1/jobs?state=failed&limit=8'),
        api('/api/v1/jobs?state=pending,retry&limit=8'),
        api('/api/v1/artifacts?limit=12'),
      ]);
      renderTotals(summary);
      renderBackends(summary);
      const names = renderBatches(batches);
      renderFailures(failures, names);
      renderWaiting(waiting, names);
      await renderArtifacts(artifacts);
      $('problem').hidden = true;
    } catch (e) {
      if (e instanceof AuthNeeded) {
        askForToken();
      } else {
        $('problem').textContent = 'Could not refresh: ' + e.message;
        $('problem').hidden = false;
      }
    }
  }

  $('token-form').addEventListener('submit', () => {
    localStorage.setItem(TOKEN_KEY, $('token-input').value.trim());
    asking = false;
    refresh();
  });
  $('token-dialog').addEventListener('close', () => { asking = false; });
  $('token-button').addEventListener('click', askForToken);

  refresh();
  setInterval(() => { if (!document.hidden) refresh(); }, REFRESH_MS);
})();
