// The ledger's dashboard: plain browser JavaScript, no build step. Each page has its own address (#/batches/ID,
// #/jobs/ID, ...), so it can be shared and the back button works. A page is cloned from its <template> once, then
// only its data regions are redrawn every few seconds: the reader's scroll position, open details and filters stay.
// With auth on it asks once for a read token and keeps it in this browser.
(() => {
  'use strict';
  const REFRESH_MS = 5000;
  const TOKEN_KEY = 'atelier.ledger.token';
  // a token that may cancel and retry is asked for only when an action needs it, and kept in this tab only
  const SUBMIT_KEY = 'atelier.ledger.submit-token';
  const STATES = ['pending', 'running', 'retry', 'success', 'failed', 'cancelled'];
  const TERMINAL = new Set(['success', 'failed', 'cancelled']);
  // state is never told by colour alone: each has a shape too
  const SYMBOL = { pending: '○', running: '▶', retry: '↻', success: '✓', failed: '✗', cancelled: '⊘',
    online: '●', degraded: '◐', offline: '○' };
  const images = new Map(); // "artifact id?size" -> object URL, fetched once
  const batchNames = new Map(); // batch id -> name, learnt from every batch list read
  let asking = false;
  let current = null; // { refresh, live } of the page shown
  let generation = 0; // bumped on every page change, so a late answer for the page left is dropped
  let lastShown = 0; // when the page shown was last read
  let streaming = false; // the change stream is open: pages read again when told, and every minute besides

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v == null) continue;
      if (k === 'class') node.className = v;
      else if (k === 'text') node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c != null) node.append(c);
    return node;
  }

  class AuthNeeded extends Error {}
  class Refused extends Error {} // a 400: the filter typed is not valid
  class Gone extends Error {} // a 404: the batch or job named by the address is not there (deleted, or mistyped)

  async function api(path, asBlob = false) {
    const token = localStorage.getItem(TOKEN_KEY);
    const response = await fetch(path, { headers: token ? { Authorization: 'Bearer ' + token } : {} });
    if (response.status === 401 || response.status === 403) throw new AuthNeeded();
    if (!response.ok) {
      let detail = response.statusText;
      try {
        const problem = await response.json();
        detail = (problem.errors || []).map((e) => e.field + ' ' + e.message).join('; ') || problem.detail || detail;
      } catch (ignored) { /* not JSON */ }
      throw response.status === 404 ? new Gone(detail) : response.status === 400 ? new Refused(detail) : new Error(detail);
    }
    return asBlob ? response.blob() : response.json();
  }

  /** An image's bytes as an object URL, through the same authenticated request as everything else (no token in a URL). */
  async function imageUrl(artifact, size) {
    const key = artifact.id + '?' + (size || 'full');
    if (!images.has(key)) {
      let blob;
      if (size) {
        // a small picture the ledger makes once, or the image itself when it cannot (a format it does not read)
        try { blob = await api(artifact.url + '?size=' + size, true); } catch (e) { if (e instanceof AuthNeeded) throw e; }
      }
      if (!blob) blob = await api(artifact.url, true);
      images.set(key, URL.createObjectURL(blob));
    }
    return images.get(key);
  }

  async function post(path, token) {
    const response = await fetch(path, { method: 'POST', headers: token ? { Authorization: 'Bearer ' + token } : {} });
    let detail = response.statusText;
    try { detail = (await response.json()).detail || detail; } catch (ignored) { /* no JSON */ }
    return { ok: response.ok, status: response.status, detail };
  }

  /** Asks for a token that may take the action, saying why; null when the reader would rather not. */
  function askForSubmitToken(why) {
    const dialog = $('submit-dialog');
    $('submit-why').textContent = why;
    $('submit-input').value = '';
    dialog.returnValue = '';
    dialog.showModal();
    return new Promise((resolve) => {
      dialog.addEventListener('close', () => resolve(dialog.returnValue === 'use' ? $('submit-input').value.trim() : null), { once: true });
    });
  }

  /**
   * Takes an action through the ledger, which forwards it to the gateway. The gateway decides by the token's role;
   * when it refuses, the page says which role is needed and asks for a token that has it, once.
   */
  async function act(button, path, what) {
    const status = button.closest('#view').querySelector('.action-status');
    button.disabled = true;
    status.textContent = what + '…';
    try {
      let answer = await post(path, sessionStorage.getItem(SUBMIT_KEY) || localStorage.getItem(TOKEN_KEY));
      if (answer.status === 401 || answer.status === 403) {
        const token = await askForSubmitToken(`${what} was refused: ${answer.detail}`);
        if (token == null) {
          status.textContent = `${what}: not done. ${answer.detail}`;
          return;
        }
        answer = await post(path, token);
        if (answer.ok) sessionStorage.setItem(SUBMIT_KEY, token);
      }
      status.textContent = answer.ok ? `${what}: done.` : `${what}: refused (${answer.status}). ${answer.detail}`;
      show(current);
    } catch (e) {
      status.textContent = `${what}: the ledger could not be reached (${e.message}).`;
    } finally {
      button.disabled = false;
    }
  }

  function askForToken() {
    if (asking) return;
    asking = true;
    $('token-input').value = '';
    $('token-dialog').showModal();
  }

  function ago(iso) {
    if (!iso) return '';
    const s = Math.max(0, (Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return Math.round(s) + ' s ago';
    if (s < 3600) return Math.round(s / 60) + ' min ago';
    if (s < 86400) return Math.round(s / 3600) + ' h ago';
    return Math.round(s / 86400) + ' d ago';
  }

  function time(iso) {
    return iso ? new Date(iso).toLocaleString([], { dateStyle: 'short', timeStyle: 'medium' }) : '–';
  }

  function duration(sec) {
    if (sec == null) return '';
    if (sec < 60) return sec.toFixed(1) + ' s';
    if (sec < 3600) return Math.floor(sec / 60) + ' min ' + Math.round(sec % 60) + ' s';
    return Math.floor(sec / 3600) + ' h ' + Math.round((sec % 3600) / 60) + ' min';
  }

  function pill(state) {
    return el('span', { class: 'pill ' + state }, el('span', { 'aria-hidden': 'true', text: (SYMBOL[state] || '') + ' ' }), state);
  }

  function jobName(job) {
    return job.crew ? `${job.crew} · ${job.task}` : job.key;
  }

  function batchLink(id) {
    return el('a', { href: '#/batches/' + id, text: batchNames.get(id) || id.slice(0, 8) });
  }

  /** A batch's name, read once when no list has told it yet. */
  async function batchName(id) {
    if (!batchNames.has(id)) {
      try { batchNames.set(id, (await api('/api/v1/batches/' + id)).name); } catch (e) { if (!(e instanceof Gone)) throw e; }
    }
    return batchNames.get(id) || id.slice(0, 8);
  }

  function remember(batches) {
    for (const b of batches) batchNames.set(b.id, b.name);
  }

  /** Redraws a region, opening again the <details> the reader had open (matched by data-keep). */
  function redraw(container, ...children) {
    const open = new Set([...container.querySelectorAll('details[open][data-keep]')].map((d) => d.dataset.keep));
    container.replaceChildren(...children);
    for (const d of container.querySelectorAll('details[data-keep]')) if (open.has(d.dataset.keep)) d.open = true;
  }

  // ---- addresses: #/path?query ----

  function parseHash() {
    const raw = location.hash.replace(/^#/, '') || '/';
    const q = raw.indexOf('?');
    return { path: q < 0 ? raw : raw.slice(0, q), query: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
  }

  /** Puts the filters into the address without a new history entry: the address can be shared, back leaves the page. */
  function replaceQuery(query) {
    const text = [...query.entries()].filter(([, v]) => v).map(([k, v]) => k + '=' + encodeURIComponent(v)
      .replace(/%2C/g, ',').replace(/%3A/g, ':')).join('&');
    history.replaceState(null, '', '#' + parseHash().path + (text ? '?' + text : ''));
  }

  /** Binds a filter form to the address: fields start from it, and each change narrows the list at once. */
  function bindFilters(form, query, onChange) {
    for (const field of form.elements) {
      if (field.name && query.has(field.name)) field.value = query.get(field.name); // else the page's default
    }
    let timer;
    const changed = () => {
      for (const field of form.elements) if (field.name) query.set(field.name, field.value.trim());
      replaceQuery(query);
      onChange();
    };
    form.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(changed, 300); });
    form.addEventListener('change', () => { clearTimeout(timer); changed(); });
    form.addEventListener('submit', (e) => { e.preventDefault(); clearTimeout(timer); changed(); });
  }

  /** A list that grows by a page when asked, and is re-read whole on refresh (so nothing shown goes stale). */
  function growingList(section, pageSize = 50) {
    let limit = pageSize;
    const button = section.querySelector('.more-button');
    return {
      limit: () => limit,
      reset: () => { limit = pageSize; },
      show: (page, onMore) => {
        section.querySelector('.empty').hidden = page.items.length > 0;
        button.hidden = !page.next_after || limit >= 500;
        button.onclick = () => { limit = Math.min(500, limit + pageSize); onMore(); };
      },
    };
  }

  /** A filtered list's page, or null when the filter is not valid, which the page's problem line then says. */
  async function filtered(root, path, query, names, limit) {
    const params = new URLSearchParams({ limit });
    for (const name of names) if (query.get(name)) params.set(name, query.get(name));
    const problem = root.querySelector('.filter-problem');
    try {
      const page = await api(path + '?' + params);
      problem.hidden = true;
      return page;
    } catch (e) {
      if (!(e instanceof Refused)) throw e;
      problem.textContent = 'This filter is not valid: ' + e.message;
      problem.hidden = false;
      return null;
    }
  }

  function progressBar(counts, total) {
    const bar = el('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': '0', 'aria-valuemax': String(total),
      'aria-label': 'jobs finished' });
    let done = 0;
    for (const s of ['success', 'failed', 'cancelled', 'running', 'retry']) {
      const n = counts[s] || 0;
      if (TERMINAL.has(s)) done += n;
      if (n > 0 && total > 0) bar.append(el('span', { class: 'seg-' + s, style: `width:${(100 * n) / total}%`, title: `${n} ${s}` }));
    }
    bar.setAttribute('aria-valuenow', String(done));
    return bar;
  }

  function batchRow(b) {
    const done = b.status_counts.success + b.status_counts.failed + b.status_counts.cancelled;
    const failed = b.status_counts.failed ? ` · ${b.status_counts.failed} failed` : '';
    const labels = Object.entries(b.labels || {}).map(([k, v]) => k + ':' + v).join(' ');
    return el('li', { class: 'batch', 'data-batch-id': b.id },
      el('div', { class: 'batch-head' },
        el('a', { class: 'batch-name', href: '#/batches/' + b.id, text: b.name, title: b.id }),
        el('span', { class: 'batch-meta' }, `${done}/${b.total_tasks}${failed} · `, pill(b.state))),
      progressBar(b.status_counts, b.total_tasks),
      el('div', { class: 'batch-meta', text: `${b.mode} mode · batch priority ${b.priority} · ${Math.round(b.progress * 100)}% · `
        + `${ago(b.created_at)}${b.submitted_by ? ' · by ' + b.submitted_by : ''}${labels ? ' · ' + labels : ''}` }));
  }

  /** One row of a jobs table: what it is, its state, and why it waits or what it gave. */
  function jobRow(j, third) {
    const why = j.state === 'failed' || j.state === 'cancelled' ? el('span', { class: 'error', text: j.error || '' })
      : TERMINAL.has(j.state) ? el('span', { class: 'muted', text: j.result_preview || '' })
        : el('span', { class: 'reason', text: j.waiting_reason || (j.executor ? 'on ' + j.executor : '') });
    return el('tr', { 'data-job-id': j.id, 'data-state': j.state },
      el('th', { scope: 'row' }, el('a', { href: '#/jobs/' + j.id, text: jobName(j) }),
        el('div', { class: 'muted small', text: j.type + (j.model ? ' · ' + j.model : '') })),
      el('td', {}, pill(j.state)),
      el('td', {}, third),
      el('td', { class: 'num', text: `${j.attempt}/${j.max_attempts}` }),
      el('td', { class: 'num', text: duration(j.elapsed_sec) }),
      el('td', { class: 'why' }, why));
  }

  // ---- pages ----

  function overviewPage(root) {
    function renderTotals(summary) {
      const set = (state, n) => { root.querySelector(`#totals [data-state="${state}"] .value`).textContent = n.toLocaleString(); };
      set('total', summary.total_tasks);
      for (const s of STATES) set(s, summary.status_counts[s] || 0);
    }

    function jobLine(job, detail) {
      return el('li', { 'data-job-id': job.id },
        el('a', { class: 'job-key', href: '#/jobs/' + job.id, text: jobName(job) }),
        el('span', { class: 'muted', text: `  ${batchNames.get(job.batch_id) || job.batch_id.slice(0, 8)} · ${job.type}` }),
        detail);
    }

    async function renderArtifacts(page) {
      const figures = [];
      for (const a of page.items.filter((x) => x.content_type.startsWith('image/'))) {
        let src;
        try { src = await imageUrl(a, 256); } catch (e) { if (e instanceof AuthNeeded) throw e; continue; }
        figures.push(el('figure', { 'data-artifact-id': a.id },
          el('a', { href: '#/jobs/' + a.job_id, title: 'open its job' }, el('img', { src, alt: a.name, loading: 'lazy' })),
          el('figcaption', { text: a.name, title: a.name })));
      }
      $('artifacts').replaceChildren(...figures);
      $('artifacts-empty').hidden = figures.length > 0;
    }

    return {
      live: true,
      async refresh() {
        const [summary, batches, failures, waiting, artifacts] = await Promise.all([
          api('/api/v1/summary'), api('/api/v1/batches?limit=15'), api('/api/v1/jobs?state=failed&limit=8'),
          api('/api/v1/jobs?state=pending,retry&limit=8'), api('/api/v1/artifacts?limit=12'),
        ]);
        remember(batches.items);
        renderTotals(summary);
        renderBackendList($('services'), $('backends'), summary, summary.backends);
        $('backends-empty').hidden = summary.backends.length > 0;
        $('batches').replaceChildren(...batches.items.map(batchRow));
        $('batches-empty').hidden = batches.items.length > 0;
        $('failures').replaceChildren(...failures.items.map((j) =>
          jobLine(j, el('span', { class: 'error', text: j.error || '(no error recorded)' }))));
        $('failures-empty').hidden = failures.items.length > 0;
        $('waiting').replaceChildren(...waiting.items.map((j) =>
          jobLine(j, el('span', { class: 'reason', text: j.waiting_reason || j.state }))));
        $('waiting-empty').hidden = waiting.items.length > 0;
        await renderArtifacts(artifacts);
        return summary.last_updated;
      },
    };
  }

  /** "deepseek-r1:32b (19.5 GiB VRAM, until 12:05)": what the GPU holds, and for how long keep_alive keeps it. */
  function loadedText(m) {
    const parts = [];
    if (m.size_vram > 0) parts.push((m.size_vram / 2 ** 30).toFixed(1) + ' GiB VRAM');
    if (m.expires_at) parts.push('until ' + new Date(m.expires_at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }));
    return m.name + (parts.length ? ' (' + parts.join(', ') + ')' : '');
  }

  function renderBackendList(services, list, summary, backends) {
    services.replaceChildren(...Object.entries(summary.services).map(([kind, status]) =>
      el('span', { class: 'service' }, kind + ' ', pill(status))));
    list.replaceChildren(...backends.map((b) => {
      const executor = summary.executors.find((e) => b.name.endsWith('@' + e.id));
      const slots = executor ? `${executor.busy[b.kind] || 0}/${executor.slots[b.kind] || 0} slots busy` : '';
      const draining = executor && executor.draining
        ? el('span', { class: 'pill degraded', title: 'stopping: claims nothing more, finishing or handing back what it holds', text: 'draining' }) : null;
      return el('li', { class: 'backend', 'data-backend': b.name },
        el('div', {}, el('strong', { text: b.name }), ' ', pill(b.status), draining ? ' ' : null, draining,
          el('span', { class: 'muted', text: '  ' + slots })),
        el('div', { class: 'models', text: b.models.length ? b.models.join(', ') : 'no models' }),
        (b.loaded || []).length ? el('div', { class: 'models loaded', text: 'loaded: ' + b.loaded.map(loadedText).join(', ') }) : null,
        b.detail ? el('div', { class: 'models', text: b.detail }) : null);
    }));
  }

  function batchesPage(root, query) {
    const form = root.querySelector('form');
    const list = growingList(root.querySelector('section'));
    const page = {
      live: true,
      async refresh() {
        const batches = await filtered(root, '/api/v1/batches', query, ['name', 'state', 'label'], list.limit());
        if (!batches) return null;
        remember(batches.items);
        $('batch-list').replaceChildren(...batches.items.map(batchRow));
        list.show(batches, () => show(page));
        return null;
      },
    };
    bindFilters(form, query, () => { list.reset(); show(page); });
    return page;
  }

  function batchPage(root, query, id) {
    const section = root.querySelector('#job-table').closest('section');
    const list = growingList(section, 100);
    root.querySelector('#batch-images').href = '#/images?batch=' + id;
    root.querySelector('#cancel-batch').addEventListener('click', (e) => {
      if (confirm(`Cancel every job of ${batchNames.get(id) || 'this batch'} that has not finished?`)) {
        act(e.target, `/api/v1/batches/${id}/cancel`, 'Cancel batch');
      }
    });
    root.querySelector('#retry-failed').addEventListener('click', (e) => act(e.target, `/api/v1/batches/${id}/retry-failed`, 'Retry failed jobs'));
    root.querySelector('#export-button').addEventListener('click', async () => {
      const blob = await api('/api/v1/exports/ledger.jsonl?batch=' + id, true);
      const link = el('a', { href: URL.createObjectURL(blob), download: `ledger-${batchNames.get(id) || id}.jsonl` });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    });

    function chainView(chain, byKey) {
      const steps = [];
      chain.forEach((key, i) => {
        const job = byKey.get(key);
        if (i > 0) steps.push(el('span', { class: 'arrow', 'aria-label': 'then', text: ' → ' }));
        const state = job ? job.state : 'pending';
        steps.push(el('a', { class: 'step ' + state, href: job ? '#/jobs/' + job.id : '#', title: state },
          key + ' ', el('span', { 'aria-hidden': 'true', text: SYMBOL[state] }), el('span', { class: 'visually-hidden', text: ' ' + state })));
      });
      return el('li', {}, ...steps);
    }

    const page = {
      live: true,
      async refresh() {
        const params = new URLSearchParams({ batch: id, limit: list.limit() });
        if (query.get('state')) params.set('state', query.get('state'));
        const [batch, jobs] = await Promise.all([api('/api/v1/batches/' + id), api('/api/v1/jobs?' + params)]);
        batchNames.set(batch.id, batch.name);
        document.title = batch.name + ' · Atelier';
        $('batch-title').replaceChildren(batch.name, ' ', pill(batch.state));
        const labels = Object.entries(batch.labels || {}).map(([k, v]) => k + ':' + v).join(' ');
        $('batch-meta').textContent = `${batch.mode} mode · batch priority ${batch.priority} · ${batch.jobs.length} jobs · `
          + `submitted ${time(batch.created_at)}${batch.submitted_by ? ' by ' + batch.submitted_by : ''} · `
          + `${batch.finished_at ? 'took' : 'running for'} ${duration(batch.elapsed_sec)}${labels ? ' · ' + labels : ''}`;
        $('batch-progress').replaceChildren(progressBar(batch.status_counts, batch.jobs.length));
        $('cancel-batch').hidden = TERMINAL.has(batch.state);
        $('retry-failed').hidden = !batch.status_counts.failed;
        $('groups').replaceChildren(...batch.groups.map((g) => {
          const counts = STATES.filter((s) => g.status_counts[s]).map((s) => `${g.status_counts[s]} ${s}`).join(', ');
          return el('li', {}, el('strong', { text: 'group ' + g.priority }), ' ', el('span', { class: 'muted', text: counts }));
        }));
        const byKey = new Map(batch.jobs.map((j) => [j.key, j]));
        $('chains').replaceChildren(...batch.chains.map((c) => chainView(c, byKey)));
        $('chains-empty').hidden = batch.chains.length > 0;
        root.querySelector('#job-table tbody').replaceChildren(...jobs.items.map((j) =>
          jobRow(j, el('span', { class: 'num', text: String(j.priority) }))));
        list.show(jobs, () => show(page));
        return null;
      },
    };
    bindFilters(section.querySelector('form'), query, () => { list.reset(); show(page); });
    return page;
  }

  function jobsPage(root, query) {
    if (!query.has('state')) query.set('state', 'failed');
    const section = root.querySelector('section');
    const list = growingList(section);
    const page = {
      live: true,
      async refresh() {
        const params = new URLSearchParams({ limit: list.limit() });
        if (query.get('state')) params.set('state', query.get('state'));
        const jobs = await api('/api/v1/jobs?' + params);
        const unknown = [...new Set(jobs.items.map((j) => j.batch_id))].filter((b) => !batchNames.has(b));
        if (unknown.length) {
          remember((await api('/api/v1/batches?limit=200')).items);
          for (const b of unknown) if (!batchNames.has(b)) batchNames.set(b, b.slice(0, 8)); // older: asked once
        }
        section.querySelector('tbody').replaceChildren(...jobs.items.map((j) => jobRow(j, batchLink(j.batch_id))));
        list.show(jobs, () => show(page));
        return null;
      },
    };
    bindFilters(root.querySelector('form'), query, () => { list.reset(); show(page); });
    return page;
  }

  function jobPage(root, query, id) {
    let finished = false;
    root.querySelector('#cancel-job').addEventListener('click', (e) => act(e.target, `/api/v1/jobs/${id}/cancel`, 'Cancel job'));
    root.querySelector('#retry-job').addEventListener('click', (e) => act(e.target, `/api/v1/jobs/${id}/retry`, 'Retry job'));

    function resultView(job) {
      const r = job.result;
      if (!r) return [el('p', { class: 'empty', text: job.progress != null ? `Running: ${Math.round(job.progress * 100)}%` : 'No result yet.' })];
      const parts = [];
      if (r.thinking) {
        parts.push(el('details', { class: 'thinking', 'data-keep': 'thinking' },
          el('summary', { text: `Thinking (${r.thinking.trim().split(/\s+/).length} words)` }),
          el('div', { class: 'answer muted', text: r.thinking })));
      }
      if (r.text != null) {
        let pretty = null;
        if (job.spec && job.spec.format) {
          try { pretty = JSON.stringify(JSON.parse(r.text), null, 2); } catch (ignored) { /* shown as text */ }
        }
        parts.push(pretty != null ? el('pre', { class: 'code answer-json', text: pretty }) : el('div', { class: 'answer', text: r.text }));
        const stats = [r.model, r.done_reason && 'done: ' + r.done_reason, r.eval_count != null && r.eval_count + ' tokens out',
          r.prompt_eval_count != null && r.prompt_eval_count + ' in', r.total_duration_sec != null && duration(r.total_duration_sec) + ' in Ollama',
          r.load_duration_sec ? duration(r.load_duration_sec) + ' loading' : null].filter(Boolean);
        parts.push(el('p', { class: 'meta', text: stats.join(' · ') }));
      }
      if (r.artifacts) {
        const figures = el('div', { class: 'large-images' });
        for (const a of r.artifacts) {
          const fig = el('figure', { 'data-artifact-id': a.id });
          fig.append(el('figcaption', { text: `${a.name} · ${a.content_type} · ${(a.size / 1024).toFixed(0)} KiB` }));
          figures.append(fig);
          if (a.content_type.startsWith('image/')) {
            imageUrl(a).then((src) => fig.prepend(el('img', { src, alt: a.name }))).catch(() => { /* caption stays */ });
          } else {
            fig.prepend(el('button', { type: 'button', class: 'link-button', text: 'Download ' + a.name }));
            fig.firstChild.addEventListener('click', async () => { location.assign(await imageUrl(a)); });
          }
        }
        parts.push(figures);
      }
      return parts;
    }

    return {
      get live() { return !finished; },
      async refresh() {
        const job = await api('/api/v1/jobs/' + id);
        finished = TERMINAL.has(job.state); // nothing changes a finished job but a retry, which redraws the page
        $('cancel-job').hidden = finished;
        $('retry-job').hidden = job.state !== 'failed' && job.state !== 'cancelled';
        document.title = job.key + ' · Atelier';
        const batch = root.querySelector('#job-batch');
        batch.href = '#/batches/' + job.batch_id;
        batch.textContent = await batchName(job.batch_id);
        $('job-title').replaceChildren(jobName(job), ' ', pill(job.state));
        $('job-meta').textContent = [job.type, job.model, 'priority ' + job.priority,
          `attempt ${job.attempts_used}/${job.max_attempts}`, job.executor && 'on ' + job.executor,
          'created ' + time(job.created_at), job.started_at && 'started ' + time(job.started_at),
          job.finished_at && 'finished ' + time(job.finished_at), job.elapsed_sec != null && duration(job.elapsed_sec)]
          .filter(Boolean).join(' · ');
        $('job-waiting').hidden = !job.waiting_reason;
        $('job-waiting').textContent = job.waiting_reason ? 'Waiting: ' + job.waiting_reason : '';
        $('job-error').hidden = !job.error;
        $('job-error').textContent = job.error || '';
        const upstreams = job.upstreams || [];
        $('job-upstreams-section').hidden = upstreams.length === 0;
        $('job-upstreams').replaceChildren(...upstreams.map((u) => el('li', {},
          el('a', { href: '#/jobs/' + u.job_id, text: u.key }), ' ', pill(u.state))));
        redraw($('job-result'), ...resultView(job));
        $('attempt-table').querySelector('tbody').replaceChildren(...job.attempts.map((a) => el('tr', {},
          el('td', { class: 'num', text: String(a.attempt) }), el('td', { text: a.executor || '' }),
          el('td', { text: time(a.started_at) }), el('td', { text: time(a.finished_at) }),
          el('td', { class: 'num', text: duration(a.elapsed_sec) }),
          el('td', {}, pill(a.status), a.error ? el('span', { class: 'error', text: a.error }) : null))));
        $('attempts-empty').hidden = job.attempts.length > 0;
        $('job-spec').textContent = JSON.stringify(job.spec, null, 2);
        return null;
      },
    };
  }

  function imagesPage(root, query) {
    const section = root.querySelector('section');
    const list = growingList(section, 48);
    const chip = root.querySelector('#images-batch');
    const shown = new Map(); // artifact id -> its <li>, so a refresh adds new images and keeps the rest
    const page = {
      live: true,
      async refresh() {
        const artifacts = await filtered(root, '/api/v1/artifacts', query, ['batch', 'label'], list.limit());
        if (!artifacts) return null;
        const batch = query.get('batch');
        chip.hidden = !batch;
        if (batch) {
          await batchName(batch);
          const remove = el('a', { href: '#/images', 'aria-label': 'show every batch', text: '✕' });
          chip.replaceChildren('batch ', batchLink(batch), ' ', remove);
        }
        const items = [];
        for (const a of artifacts.items.filter((x) => x.content_type.startsWith('image/'))) {
          if (!shown.has(a.id)) {
            const img = el('img', { alt: `${a.job_key}: ${a.name}`, loading: 'lazy' });
            const button = el('button', { type: 'button', class: 'thumb', 'aria-label': `open ${a.name} of ${a.job_key} full size` }, img);
            button.addEventListener('click', () => openImage(a));
            shown.set(a.id, el('li', { 'data-artifact-id': a.id }, button,
              el('div', { class: 'caption' }, el('a', { href: '#/jobs/' + a.job_id, text: a.job_key }),
                el('span', { class: 'muted', text: ' ' + a.name }))));
            imageUrl(a, 256).then((src) => { img.src = src; }).catch(() => { img.alt = a.name + ' (could not be read)'; });
          }
          items.push(shown.get(a.id));
        }
        $('gallery').replaceChildren(...items);
        list.show({ items, next_after: artifacts.next_after }, () => show(page));
        return null;
      },
    };
    bindFilters(root.querySelector('form'), query, () => { list.reset(); show(page); });
    return page;
  }

  async function openImage(a) {
    const dialog = $('image-dialog');
    $('image-title').textContent = a.job_key;
    $('image-full').alt = `${a.job_key}: ${a.name}`;
    $('image-full').removeAttribute('src');
    $('image-caption').textContent = `${a.name} · ${a.content_type} · ${(a.size / 1024).toFixed(0)} KiB · ${time(a.created_at)}`;
    $('image-job').href = '#/jobs/' + a.job_id;
    dialog.showModal();
    $('image-full').src = await imageUrl(a);
  }

  function executorsPage(root) {
    return {
      live: true,
      async refresh() {
        const summary = await api('/api/v1/summary');
        root.querySelector('.empty').hidden = summary.executors.length > 0;
        $('executor-services').replaceChildren(...Object.entries(summary.services).map(([kind, status]) =>
          el('span', { class: 'service' }, kind + ' ', pill(status))));
        $('executors').replaceChildren(...summary.executors.map((x) => {
          const slots = Object.keys(x.slots).filter((kind) => x.slots[kind] > 0).map((kind) => {
            const busy = x.busy[kind] || 0;
            const total = x.slots[kind] || 0;
            return el('div', { class: 'slot' }, el('span', { text: `${kind}: ${busy}/${total} slots busy` }),
              el('meter', { min: '0', max: String(Math.max(total, 1)), value: String(busy), 'aria-label': kind + ' slots busy' }));
          });
          const backends = el('ul', { class: 'backends' });
          renderBackendList(el('div'), backends, summary, summary.backends.filter((b) => b.name.endsWith('@' + x.id)));
          return el('li', { class: 'card executor', 'data-executor': x.id },
            el('h2', {}, el('span', { text: x.id }), ' ', x.draining ? el('span', { class: 'pill degraded', text: 'draining' }) : pill('online')),
            el('p', { class: 'meta', text: `started ${time(x.started_at)} · last seen ${ago(x.last_seen)}`
              + (x.draining ? ` · draining since ${time(x.draining_since)}` : '') }),
            ...slots, backends);
        }));
        return summary.last_updated;
      },
    };
  }

  // ---- history: small SVG line charts, each line told apart by its dash pattern and its label as well as colour ----

  const LINE_STYLES = [
    { color: '#15803d', dash: '' }, { color: '#b91c1c', dash: '6 3' }, { color: '#475569', dash: '2 3' },
    { color: '#1d4ed8', dash: '' }, { color: '#b45309', dash: '8 3 2 3' }, { color: '#7c3aed', dash: '4 2' },
  ];
  const SVG = 'http://www.w3.org/2000/svg';

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
    return node;
  }

  /**
   * A line chart of some series over the shared minutes. {@code lines}: [{name, values}] (null = no sample).
   * {@code percent}: values are 0..1, shown as %. Returns the chart and a sentence that says what it shows.
   */
  function lineChart(minutes, lines, { percent = false, what, width = 720 }) {
    width = Math.max(280, Math.round(width)); // drawn at the size shown, so text is never stretched
    const height = 200;
    const pad = { left: 44, right: 8, top: 8, bottom: 22 };
    const all = lines.flatMap((l) => l.values.filter((v) => v != null));
    const top = percent ? 1 : Math.max(2, Math.ceil(Math.max(0, ...all) / 2) * 2); // even, so the middle line is whole
    const x = (i) => pad.left + (i / Math.max(1, minutes.length - 1)) * (width - pad.left - pad.right);
    const y = (v) => pad.top + (1 - v / top) * (height - pad.top - pad.bottom);
    const label = (v) => (percent ? Math.round(v * 100) + '%' : Number.isInteger(v) ? String(v) : v.toFixed(1));
    const last = lines.map((l) => {
      const v = [...l.values].reverse().find((n) => n != null);
      return `${l.name} ${v == null ? 'no data' : label(v)}`;
    }).join(', ');
    const chart = svg('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'line-chart',
      'aria-label': `${what} over ${minutes.length} minutes; latest: ${last || 'no series'}` });
    for (const v of [0, top / 2, top]) {
      chart.append(svg('line', { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: 'grid-line' }));
      const t = svg('text', { x: pad.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'axis' });
      t.textContent = label(v);
      chart.append(t);
    }
    const ticks = [0, Math.floor((minutes.length - 1) / 2), minutes.length - 1];
    for (const i of ticks) {
      if (!minutes[i]) continue;
      const t = svg('text', { x: x(i), y: height - 6, 'text-anchor': i === 0 ? 'start' : i === ticks[2] ? 'end' : 'middle', class: 'axis' });
      t.textContent = new Date(minutes[i]).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
      chart.append(t);
    }
    lines.forEach((l, n) => {
      const style = LINE_STYLES[n % LINE_STYLES.length];
      let d = '';
      l.values.forEach((v, i) => {
        if (v == null) return;
        const alone = l.values[i - 1] == null && l.values[i + 1] == null;
        // a point with no sampled neighbour is drawn as a dot, so one sample shows at all
        d += alone ? `M${(x(i) - 1.5).toFixed(1)},${y(v).toFixed(1)}h3`
          : `${l.values[i - 1] == null ? 'M' : 'L'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      });
      if (d) {
        chart.append(svg('path', { d, fill: 'none', stroke: style.color, 'stroke-width': 2, 'stroke-linecap': 'round',
          'stroke-dasharray': style.dash, 'data-series': l.name }));
      }
    });
    const legend = el('ul', { class: 'legend' }, ...lines.map((l, n) => {
      const style = LINE_STYLES[n % LINE_STYLES.length];
      const swatch = svg('svg', { width: 28, height: 10, 'aria-hidden': 'true' });
      swatch.append(svg('line', { x1: 0, x2: 28, y1: 5, y2: 5, stroke: style.color, 'stroke-width': 2, 'stroke-dasharray': style.dash }));
      return el('li', {}, swatch, ' ' + l.name);
    }));
    return [chart, legend, el('p', { class: 'meta', text: 'Latest: ' + (last || 'nothing yet') })];
  }

  function historyPage(root, query) {
    const page = {
      live: true,
      every: 60000, // a point a minute
      async refresh() {
        const hours = query.get('hours') || '6';
        const history = await api('/api/v1/history?hours=' + encodeURIComponent(hours));
        const lines = (series, prefix = '') => Object.entries(history.series[series] || {})
          .map(([name, values]) => ({ name: prefix + name, values }));
        const finished = ['success', 'failed', 'cancelled'].map((state) =>
          ({ name: state, values: (history.series.finished || {})[state] || [] })).filter((l) => l.values.length);
        const width = $('chart-finished').clientWidth;
        $('chart-finished').replaceChildren(...lineChart(history.minutes, finished, { what: 'Jobs finished per minute', width }));
        $('chart-queue').replaceChildren(...lineChart(history.minutes,
          [...lines('waiting', 'waiting '), ...lines('running', 'running ')], { what: 'Jobs waiting and running by kind', width }));
        $('chart-utilisation').replaceChildren(...lineChart(history.minutes, lines('utilisation'),
          { percent: true, what: 'Busy slots per executor', width }));
        return null;
      },
    };
    bindFilters(root.querySelector('form'), query, () => show(page));
    return page;
  }

  const ROUTES = [
    [/^\/$/, 'overview', overviewPage],
    [/^\/batches$/, 'batches', batchesPage],
    [/^\/batches\/([0-9a-fA-F-]{36})$/, 'batch', batchPage],
    [/^\/jobs$/, 'jobs', jobsPage],
    [/^\/jobs\/([0-9a-fA-F-]{36})$/, 'job', jobPage],
    [/^\/images$/, 'images', imagesPage],
    [/^\/executors$/, 'executors', executorsPage],
    [/^\/history$/, 'history', historyPage],
  ];

  /** Shows the page the address names: its frame once, then its data. */
  function route() {
    const { path, query } = parseHash();
    let [name, make, arg] = ['missing', () => ({ live: false, refresh: async () => null })];
    for (const [pattern, page, factory] of ROUTES) {
      const match = pattern.exec(path);
      if (match) { [name, make, arg] = [page, factory, match[1]]; break; }
    }
    generation++;
    $('updated').textContent = 'loading…';
    const view = $('view');
    view.replaceChildren($('page-' + name).content.cloneNode(true));
    view.dataset.page = name;
    const section = name === 'batch' ? 'batches' : name === 'job' ? 'jobs' : name;
    for (const link of document.querySelectorAll('#nav a')) {
      if (link.dataset.page === section) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    const heading = view.querySelector('h1');
    document.title = (heading ? heading.textContent : 'Atelier') + ' · Atelier';
    current = make(view, query, arg);
    if (document.activeElement && document.activeElement !== document.body && !view.contains(document.activeElement)) {
      view.focus({ preventScroll: true }); // a keyboard user lands on the new page, not on the link they left
    }
    window.scrollTo(0, 0);
    show(current);
  }

  // One read of a page at a time: a read asked for while one runs (a filter typed during a refresh) runs after it,
  // so an older answer can never land after a newer one.
  const reading = new WeakMap(); // page -> { again }

  async function show(page) {
    const state = reading.get(page);
    if (state) {
      state.again = true;
      return;
    }
    reading.set(page, { again: false });
    try {
      await readOnce(page);
    } finally {
      const again = reading.get(page).again;
      reading.delete(page);
      if (again && page === current) show(page);
    }
  }

  async function readOnce(page) {
    const mine = generation;
    lastShown = Date.now();
    try {
      const updated = await page.refresh();
      if (mine !== generation) return;
      $('updated').textContent = (streaming ? 'live · ' : '') + 'updated ' + new Date(updated || Date.now()).toLocaleTimeString();
      $('problem').hidden = true;
    } catch (e) {
      if (mine !== generation) return;
      if (e instanceof AuthNeeded) {
        askForToken();
      } else if (e instanceof Gone) {
        $('view').replaceChildren(el('h1', { text: 'Not found' }), el('p', { text: e.message + ' ' },
          el('a', { href: '#/', text: 'Back to the overview' })));
        current = { live: false, refresh: async () => null };
      } else {
        $('problem').textContent = 'Could not refresh: ' + e.message;
        $('problem').hidden = false;
      }
    }
  }

  $('token-form').addEventListener('submit', () => {
    localStorage.setItem(TOKEN_KEY, $('token-input').value.trim());
    asking = false;
    show(current);
    openStream();
  });
  $('token-dialog').addEventListener('close', () => { asking = false; });
  $('token-button').addEventListener('click', askForToken);
  document.querySelector('.skip').addEventListener('click', (e) => { e.preventDefault(); $('view').focus(); });
  $('submit-cancel').addEventListener('click', () => $('submit-dialog').close());
  $('image-close').addEventListener('click', () => $('image-dialog').close());
  $('image-job').addEventListener('click', () => $('image-dialog').close());

  /**
   * The ledger's change stream: an event whenever anything shown changed, so the page reads again at once rather
   * than every 5 s. EventSource cannot send the token, so a ticket fetched with it (valid a minute) opens the
   * stream; when a dropped stream comes back with an expired ticket it is refused, and a new ticket opens it again.
   */
  let source = null;
  let changeTimer = null;
  let opened = false; // a stream was open before: its first event after a reconnect may carry news
  async function openStream() {
    if (source) source.close();
    source = null;
    try {
      const { ticket } = await api('/api/v1/stream-ticket');
      source = new EventSource('/events?ticket=' + encodeURIComponent(ticket));
      let first = !opened;
      opened = true;
      source.addEventListener('change', () => {
        streaming = true;
        if (first) { // where things stand as the page opens, which it has just read
          first = false;
          $('updated').textContent = 'live · ' + $('updated').textContent.replace(/^live · /, '');
          return;
        }
        clearTimeout(changeTimer);
        // a page with its own pace (the history: a point a minute) keeps it
        changeTimer = setTimeout(() => {
          if (current && current.live && !current.every && !asking && !document.hidden) show(current);
        }, 250);
      });
      source.addEventListener('error', () => {
        if (source && source.readyState === EventSource.CLOSED) {
          streaming = false;
          setTimeout(openStream, 5000);
        }
      });
    } catch (e) {
      streaming = false;
      if (!(e instanceof AuthNeeded)) setTimeout(openStream, 30000); // after a token is given, it opens again
    }
  }

  window.addEventListener('hashchange', route);
  route();
  openStream();
  setInterval(() => {
    if (document.hidden || !current || !current.live || asking) return;
    if (Date.now() - lastShown < (streaming ? 60000 : current.every || REFRESH_MS) - 100) return;
    lastShown = Date.now();
    show(current);
  }, REFRESH_MS);
})();
