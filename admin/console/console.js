// The acqsim console: the host's exchanges as they happen, the scenario in
// force, the clock and the open batches, all through the admin API of this
// page's own origin. Plain script, no build step. Every piece of data reaches
// the page as text (textContent), never as markup.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);

  // How many exchanges the page loads at first, and keeps at most.
  const INITIAL_ROWS = 200;
  const MAX_ROWS = 500;
  // How often the clock, scenarios and batches are read again, for changes
  // made by others; the page's own changes show at once.
  const POLL_MS = 5000;

  // The token comes once as ?token=, then lives in this tab's session
  // storage. It leaves the address bar, so that it is not bookmarked or
  // shared with a screenshot. The API gets it as a bearer token; the live
  // stream, which a browser cannot give headers, as ?access_token=.
  const TOKEN_KEY = 'acqsim.token';
  const token = (() => {
    const url = new URL(location.href);
    const given = url.searchParams.get('token');
    if (given !== null) {
      if (given) sessionStorage.setItem(TOKEN_KEY, given);
      else sessionStorage.removeItem(TOKEN_KEY);
      url.searchParams.delete('token');
      history.replaceState(null, '', url.pathname + url.search + url.hash);
    }
    return sessionStorage.getItem(TOKEN_KEY) || '';
  })();
  let refused = false; // the API said 401: reloading with a token is the fix

  class APIError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function api(method, path, body) {
    const opts = { method, headers: {}, cache: 'no-store' };
    if (token) opts.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const resp = await fetch(path, opts);
    const text = await resp.text();
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (_) {
      // not JSON: the status says enough
    }
    if (!resp.ok) {
      if (resp.status === 401) unauthorized();
      throw new APIError(resp.status, (data && data.error) || `${method} ${path}: ${resp.status} ${resp.statusText}`);
    }
    return data;
  }

  function el(tag, className, text) {
    const e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setStatus(text, kind) {
    const s = $('status');
    s.textContent = text;
    s.className = 'status ' + kind;
  }

  function say(text, isError) {
    const m = $('message');
    m.textContent = text;
    m.className = 'message' + (isError ? ' error' : '');
    m.hidden = !text;
  }

  function unauthorized() {
    refused = true;
    setStatus('needs a token', 'bad');
    say('This host wants a token: open the console as /?token=TOKEN.', true);
  }

  // act runs what a button does, and says how it went.
  async function act(fn) {
    try {
      say(await fn(), false);
    } catch (err) {
      say(err.message, true);
    }
  }

  // quietly runs a background read; a failure shows, but stops nothing.
  function quietly(promise) {
    promise.catch((err) => {
      if (!(err instanceof APIError && err.status === 401)) say(err.message, true);
    });
  }

  // ---- formatting ----

  // Currencies (ISO 4217 numeric) whose minor unit is not a hundredth.
  const NO_MINOR = new Set(['108', '152', '174', '262', '324', '392', '410', '548', '600', '646', '704', '800', '950', '952', '953']);
  const THOUSANDTHS = new Set(['048', '368', '400', '414', '434', '512', '788']);

  function money(minor, currency) {
    if (typeof minor !== 'number') return '';
    const exp = THOUSANDTHS.has(currency) ? 3 : NO_MINOR.has(currency) ? 0 : 2;
    let s = String(Math.abs(minor));
    if (exp > 0) {
      s = s.padStart(exp + 1, '0');
      s = s.slice(0, -exp) + '.' + s.slice(-exp);
    }
    return (minor < 0 ? '-' : '') + s;
  }

  // timeOfDay is the exchange's time as the host wrote it, in the host's zone.
  function timeOfDay(iso) {
    const m = /T(\d\d:\d\d:\d\d)(?:\.(\d+))?/.exec(iso || '');
    if (!m) return iso || '';
    return m[1] + '.' + (m[2] || '').padEnd(3, '0').slice(0, 3);
  }

  function latency(us) {
    if (typeof us !== 'number') return '';
    if (us < 1000) return us + ' µs';
    if (us < 1e6) return (us / 1000).toFixed(1) + ' ms';
    return (us / 1e6).toFixed(2) + ' s';
  }

  function ruleOf(e) {
    if (!e.scenario) return '';
    return e.rule ? `${e.scenario}: ${e.rule}` : e.scenario;
  }

  // maskPAN is a second line of defence: the host masks card numbers before
  // they reach the journal, and the page would not show a clear one anyway.
  function maskPAN(pan) {
    const s = String(pan);
    return /^\d{12,19}$/.test(s) ? s.slice(0, 6) + '*'.repeat(s.length - 10) + s.slice(-4) : s;
  }

  // ---- exchanges ----

  const entries = new Map(); // seq -> entry, as the page shows them
  const currencyOf = new Map(); // terminal -> its latest currency, for batch totals
  let floor = 0; // the seq of the latest global reset: nothing before it shows
  let selected = 0;

  const COLUMNS = [
    ['time', (e) => timeOfDay(e.time)],
    ['tid', (e) => e.tid],
    ['txn', (e) => e.txn || e.mti],
    ['amount', (e) => money(e.amount, e.currency)],
    ['rc', (e) => e.rc],
    ['latency', (e) => latency(e.latency_us)],
    ['rule', ruleOf],
    ['fault', (e) => e.action || e.error],
  ];

  function row(e) {
    const tr = el('tr');
    tr.dataset.seq = String(e.seq);
    tr.tabIndex = 0;
    if (e.error) tr.classList.add('failed');
    if (e.seq === selected) tr.classList.add('selected');
    for (const [name, value] of COLUMNS) {
      const td = el('td', 'c-' + name, value(e) || '');
      tr.appendChild(td);
    }
    const time = tr.querySelector('.c-time');
    time.title = e.time || '';
    const rc = tr.querySelector('.c-rc');
    if (e.rc) rc.classList.add(e.rc === '00' ? 'ok' : 'bad');
    // Long rules and faults are cut short in the table: the whole on hover.
    tr.querySelector('.c-rule').title = ruleOf(e);
    tr.querySelector('.c-fault').title = [e.action, e.error].filter(Boolean).join('; ');
    return tr;
  }

  function addEntry(e) {
    if (!e || typeof e.seq !== 'number' || e.seq < floor || entries.has(e.seq)) return;
    if (e.txn === 'reset' && !e.tid) {
      // The host forgot everything before this: so does the page.
      floor = e.seq;
      for (const seq of [...entries.keys()]) if (seq < floor) dropEntry(seq);
    }
    entries.set(e.seq, e);
    if (e.tid && e.currency) currencyOf.set(e.tid, e.currency);
    const tbody = $('exchange-rows');
    // Newest first. Live entries go on top; older ones, from a (re)load,
    // find their place.
    let next = tbody.firstElementChild;
    while (next && Number(next.dataset.seq) > e.seq) next = next.nextElementSibling;
    tbody.insertBefore(row(e), next);
    while (entries.size > MAX_ROWS) dropEntry(Number(tbody.lastElementChild.dataset.seq));
    counted();
  }

  function dropEntry(seq) {
    entries.delete(seq);
    const tr = $('exchange-rows').querySelector(`tr[data-seq="${seq}"]`);
    if (tr) tr.remove();
    if (seq === selected) showDetail(0);
  }

  function counted() {
    $('exchange-count').textContent = String(entries.size);
    $('no-exchanges').hidden = entries.size > 0;
  }

  // Every field of the journal's exported form, in its order; any field a
  // newer host adds comes after them.
  const FIELDS = ['seq', 'time', 'conn', 'dialect', 'mti', 'response_mti', 'txn', 'proc', 'stan', 'rrn', 'tid', 'mid',
    'batch', 'amount', 'currency', 'pan', 'rc', 'latency_us', 'decision', 'scenario', 'rule', 'step', 'action', 'error'];

  function showDetail(seq) {
    const tbody = $('exchange-rows');
    const old = tbody.querySelector('tr.selected');
    if (old) old.classList.remove('selected');
    const e = entries.get(seq);
    selected = e ? seq : 0;
    const dl = $('detail-fields');
    dl.replaceChildren();
    $('detail-empty').hidden = !!e;
    $('detail-seq').textContent = e ? '#' + e.seq : '';
    quietly(loadFrames(e ? seq : 0));
    if (!e) return;
    const tr = tbody.querySelector(`tr[data-seq="${seq}"]`);
    if (tr) tr.classList.add('selected');
    const keys = FIELDS.filter((k) => k in e).concat(Object.keys(e).filter((k) => !FIELDS.includes(k)));
    for (const k of keys) {
      let v = e[k];
      if (k === 'pan') v = maskPAN(v);
      else if (k === 'amount') v = `${v} (${money(v, e.currency)})`;
      else if (typeof v === 'object' && v !== null) v = JSON.stringify(v);
      const dt = el('dt', null, k);
      const dd = el('dd', null, v);
      dd.dataset.field = k;
      dl.append(dt, dd);
    }
    if (e.tid) $('terminal-id').value = e.tid;
  }

  // ---- one exchange's frames ----

  // The frames are read from the host when an exchange is opened: it decodes
  // and masks them then, not while it answers terminals. A later opening
  // makes an earlier answer stale.
  let framesWanted = 0;

  async function loadFrames(seq) {
    const ticket = ++framesWanted;
    const note = $('frames-note');
    $('frames').hidden = true;
    note.hidden = !seq;
    note.textContent = seq ? 'Reading the frames…' : '';
    if (!seq) return;
    let x;
    try {
      x = await api('GET', '/journal/' + seq);
    } catch (err) {
      if (ticket !== framesWanted) return;
      if (!(err instanceof APIError) || err.status !== 404) throw err;
      note.textContent = 'No frames: ' + err.message + '.';
      return;
    }
    if (ticket !== framesWanted) return;
    renderFrame($('frame-request'), x && x.request);
    renderFrame($('frame-response'), x && x.response);
    note.hidden = true;
    $('frames').hidden = false;
  }

  // renderFrame shows one message: its fields by number, then its bytes in
  // hex. The host has masked the card data in both.
  function renderFrame(section, d) {
    section.querySelector('.frame-mti').textContent = d ? d.mti || '' : '';
    const body = section.querySelector('.frame-body');
    body.replaceChildren();
    if (!d) {
      body.appendChild(el('p', 'empty', 'The host built no response.'));
      return;
    }
    if (d.error) body.appendChild(el('p', 'frame-error', d.error));
    const tbody = el('tbody');
    if (d.preamble) tbody.appendChild(fieldRow('preamble', 'TPDU and header', d.preamble, false));
    for (const f of d.fields || []) tbody.appendChild(fieldRow(String(f.id), f.name, f.value, f.masked));
    const table = el('table', 'frame-fields');
    table.appendChild(tbody);
    const hex = el('pre', 'frame-hex', d.hex);
    hex.title = 'card data shows as **';
    body.append(table, el('p', 'muted', 'Raw frame, card data masked'), hex);
  }

  function fieldRow(id, name, value, masked) {
    const tr = el('tr');
    tr.dataset.field = id;
    const v = el('td', 'c-value' + (masked ? ' masked' : ''), id === '2' ? maskPAN(value) : value);
    if (masked) v.title = 'card data, masked';
    const n = el('td', 'c-name', name);
    n.title = name || '';
    tr.append(el('td', 'c-id', id), n, v);
    return tr;
  }

  $('exchange-rows').addEventListener('click', (ev) => {
    const tr = ev.target.closest('tr[data-seq]');
    if (tr) showDetail(Number(tr.dataset.seq));
  });
  $('exchange-rows').addEventListener('keydown', (ev) => {
    const tr = ev.target.closest('tr[data-seq]');
    if (!tr) return;
    let to = null;
    if (ev.key === 'Enter' || ev.key === ' ') to = tr;
    else if (ev.key === 'ArrowDown') to = tr.nextElementSibling;
    else if (ev.key === 'ArrowUp') to = tr.previousElementSibling;
    if (!to) return;
    ev.preventDefault();
    to.focus();
    showDetail(Number(to.dataset.seq));
  });

  async function loadJournal() {
    const list = await api('GET', '/journal?limit=' + INITIAL_ROWS);
    for (const e of list || []) addEntry(e);
  }

  // After the host dropped the stream, the exchanges it missed after
  // lastSeq: all of them when they fit the table, else the latest alone (the
  // table starts again), so that it never has a hole in it.
  async function loadMissed(lastSeq) {
    const list = (await api('GET', `/journal?after=${lastSeq}&limit=${MAX_ROWS}`)) || [];
    if (list.length < MAX_ROWS) {
      for (const e of list) addEntry(e);
      return;
    }
    for (const seq of [...entries.keys()]) dropEntry(seq);
    await loadJournal();
  }

  // explainRefusal says why the host refused the stream, when it said so: a
  // browser's EventSource does not tell. The host refuses more streams than
  // it allows with a 503 and a reason.
  async function explainRefusal(url) {
    const ctl = new AbortController();
    try {
      const resp = await fetch(url, { signal: ctl.signal, cache: 'no-store' });
      if (resp.status === 503) {
        const body = await resp.json().catch(() => null);
        say(((body && body.error) || 'The host is not taking more live streams') + '. Trying again…', true);
      }
    } catch (_) {
      // the host is down: the status says so
    } finally {
      ctl.abort(); // a stream that was taken after all is not kept open
    }
  }

  // The stream first, then the journal: what arrives between the two is in
  // one or the other, and a row that is in both shows once. After a
  // reconnection, the reload fills what the gap missed.
  let stream = null;
  let retry = 0;
  let dropped = false; // the page says so until the stream is live again
  function connect() {
    clearTimeout(retry);
    const url = '/journal/stream' + (token ? '?access_token=' + encodeURIComponent(token) : '');
    stream = new EventSource(url);
    stream.addEventListener('open', () => {
      setStatus('live', 'ok');
      if (dropped) {
        dropped = false;
        say('The live view fell behind and the host dropped it; it is live again, and the exchanges it missed are in the table.', false);
      }
      quietly(loadJournal());
      batchesSoon();
    });
    // The host drops a stream that falls too far behind (a busy host, a tab
    // in the background), and says so in a last event: the page connects
    // again, fills in what it missed, and tells the user.
    stream.addEventListener('dropped', (ev) => {
      let d = null;
      try {
        d = JSON.parse(ev.data);
      } catch (_) {
        // no cursor: the reload on reconnecting fills what it can
      }
      stream.close();
      dropped = true;
      setStatus('fell behind: reconnecting…', 'warn');
      if (d && typeof d.last_seq === 'number') quietly(loadMissed(d.last_seq));
      retry = setTimeout(connect, 1000);
    });
    stream.addEventListener('exchange', (ev) => {
      let e;
      try {
        e = JSON.parse(ev.data);
      } catch (_) {
        return;
      }
      addEntry(e);
      batchesSoon();
    });
    stream.addEventListener('error', () => {
      if (stream.readyState !== EventSource.CLOSED) {
        setStatus('reconnecting…', 'warn');
        return;
      }
      // The browser gives up on a refused stream; try again later, unless
      // the refusal was for the token, which only a reload can bring.
      stream.close();
      if (refused) return;
      setStatus('disconnected', 'bad');
      quietly(explainRefusal(url));
      retry = setTimeout(connect, 3000);
    });
  }

  // ---- scenarios ----

  let scenarioNames = null;
  const descriptions = new Map();

  function fillSelect(select, scenarios, none) {
    const keep = select.value;
    select.replaceChildren(el('option', null, none));
    select.firstChild.value = '';
    for (const s of scenarios) {
      const o = el('option', null, s.name);
      o.value = s.name;
      select.appendChild(o);
    }
    select.value = [...select.options].some((o) => o.value === keep) ? keep : '';
  }

  async function loadScenarios() {
    let s;
    try {
      s = await api('GET', '/scenarios');
    } catch (err) {
      if (err.status === 404) {
        $('scenario').hidden = true; // a host without scenarios
        return;
      }
      throw err;
    }
    const list = s.scenarios || [];
    const names = list.map((x) => x.name).join('\n');
    if (names !== scenarioNames) {
      const first = scenarioNames === null;
      scenarioNames = names;
      descriptions.clear();
      for (const x of list) descriptions.set(x.name, x.description || '');
      fillSelect($('global-scenario'), list, '(default host behaviour)');
      fillSelect($('terminal-scenario'), list, '(global)');
      if (first) $('global-scenario').value = s.global || '';
      describe();
    }
    $('global-current').textContent = s.global || 'default host behaviour';
    const ul = $('terminal-bindings');
    ul.replaceChildren();
    for (const tid of Object.keys(s.terminals || {}).sort()) {
      const li = el('li');
      const unbind = el('button', 'link', 'unbind');
      unbind.type = 'button';
      unbind.dataset.tid = tid;
      li.append(el('code', null, tid), el('span', null, ' → ' + s.terminals[tid] + ' '), unbind);
      ul.appendChild(li);
    }
  }

  function describe() {
    $('global-description').textContent = descriptions.get($('global-scenario').value) || '';
  }
  $('global-scenario').addEventListener('change', describe);

  $('global-apply').addEventListener('click', () => act(async () => {
    const name = $('global-scenario').value;
    if (name) await api('PUT', '/scenario', { name });
    else await api('DELETE', '/scenario');
    await loadScenarios();
    return name ? `Every terminal without its own scenario now gets ${name}.` : 'Back to the default host behaviour.';
  }));

  $('terminal-apply').addEventListener('click', () => act(async () => {
    const tid = $('terminal-id').value.trim();
    if (!tid) throw new Error('Give a terminal ID.');
    const name = $('terminal-scenario').value;
    const path = '/terminals/' + encodeURIComponent(tid) + '/scenario';
    if (name) await api('PUT', path, { name });
    else await api('DELETE', path);
    await loadScenarios();
    return name ? `${tid} now gets ${name}.` : `${tid} is back on the global scenario.`;
  }));

  $('terminal-bindings').addEventListener('click', (ev) => {
    const b = ev.target.closest('button[data-tid]');
    if (!b) return;
    const tid = b.dataset.tid;
    act(async () => {
      await api('DELETE', '/terminals/' + encodeURIComponent(tid) + '/scenario');
      await loadScenarios();
      return `${tid} is back on the global scenario.`;
    });
  });

  // ---- clock ----

  let clock = null; // what the host said, and when (page time) it said it

  function setClock(c) {
    const iso = String(c.now).replace(/(\.\d{3})\d+/, '$1');
    const zone = (/(Z|[+-]\d\d:\d\d)$/.exec(iso) || ['Z'])[0];
    clock = { ms: Date.parse(iso), zone, frozen: !!c.frozen, offset: c.offset, at: performance.now() };
    renderClock();
  }

  // inZone writes an instant as the host's clock reads it, in its zone.
  function inZone(ms, zone) {
    let minutes = 0;
    const m = /^([+-])(\d\d):(\d\d)$/.exec(zone);
    if (m) minutes = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3]));
    const d = new Date(ms + minutes * 60000);
    if (Number.isNaN(d.getTime())) return '—';
    return d.toISOString().slice(0, 19).replace('T', ' ') + (zone === 'Z' ? ' UTC' : ' ' + zone);
  }

  function renderClock() {
    if (!clock) return;
    const ms = clock.frozen ? clock.ms : clock.ms + (performance.now() - clock.at);
    $('clock-now').textContent = inZone(ms, clock.zone);
    $('clock-state').textContent = clock.frozen ? 'frozen' : 'running';
    $('clock-state').className = clock.frozen ? 'frozen' : '';
    $('clock-offset').textContent = clock.offset;
    $('clock-freeze').textContent = clock.frozen ? 'Release' : 'Freeze';
  }

  async function loadClock() {
    setClock(await api('GET', '/clock'));
  }

  async function putClock(body, done) {
    setClock(await api('PUT', '/clock', body));
    return done;
  }

  $('clock-freeze').addEventListener('click', () => act(() => {
    const freeze = !(clock && clock.frozen);
    return putClock({ freeze }, freeze ? 'Clock frozen.' : 'Clock released.');
  }));
  $('clock-real').addEventListener('click', () => act(() => putClock({ offset: '0s', freeze: false }, 'Clock back to real time.')));
  $('clock-advance-go').addEventListener('click', () => act(() => {
    const by = $('clock-advance').value.trim();
    if (!by) throw new Error('Give a duration such as 90s or 2h.');
    return putClock({ advance: by }, `Clock advanced ${by}.`);
  }));
  $('clock-set-go').addEventListener('click', () => act(() => {
    const to = $('clock-set').value.trim();
    if (!to) throw new Error('Give a time such as 2026-06-11T22:59:00+08:00.');
    return putClock({ now: to }, `Clock set to ${to}.`);
  }));

  // ---- open batches ----

  async function loadBatches() {
    let list;
    try {
      list = await api('GET', '/batches?state=open');
    } catch (err) {
      if (err.status === 404) {
        $('batches').hidden = true; // a host without books
        return;
      }
      throw err;
    }
    const tbody = $('batch-rows');
    tbody.replaceChildren();
    for (const b of list || []) {
      const t = b.host_totals || {};
      const cur = currencyOf.get(b.tid);
      const tr = el('tr');
      const tid = el('td', 'c-tid', b.tid);
      tid.title = 'merchant ' + (b.mid || '');
      tr.append(
        tid,
        el('td', 'c-batch', b.batch),
        total(t.debit_count, t.debit_amount, cur),
        total(t.credit_count, t.credit_amount, cur),
      );
      tbody.appendChild(tr);
    }
    $('no-batches').hidden = tbody.childElementCount > 0;
  }

  // total is a batch's count and amount of one side, "3 · 12.34", in a cell
  // that may break between the two when the side is narrow.
  function total(count, amount, cur) {
    const td = el('td', 'num c-total');
    td.append(el('span', '', `${count || 0} ·`), ' ', el('span', '', money(amount || 0, cur)));
    return td;
  }

  // An exchange may change a batch: read them again shortly, once for a burst.
  let batchTimer = 0;
  function batchesSoon() {
    if (batchTimer) return;
    batchTimer = setTimeout(() => {
      batchTimer = 0;
      quietly(loadBatches());
    }, 300);
  }

  // ---- start ----

  counted();
  showDetail(0);
  quietly(loadClock());
  quietly(loadScenarios());
  connect();
  setInterval(renderClock, 250);
  setInterval(() => {
    if (refused) return;
    quietly(loadClock());
    quietly(loadScenarios());
    quietly(loadBatches());
  }, POLL_MS);
})();
