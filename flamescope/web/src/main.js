// main.js — the fntrace flamescope web UI: wiring of views to the URL state.
//
// Two views, chosen by the hash (see state.js):
//   - the profile list: one page of traces (GET /api/v1/profiles) with their samples,
//     duration, invocations and upload time, sorted by any of them, newest first;
//   - a profile: heatmap (+ invocation lanes and table) and the flame graph of the
//     selected range, of one invocation, or a differential against a baseline range.
// A hash change re-renders only what it affects: a new file or row count reloads the
// heatmap, a new range/invocation/baseline reloads the flame graph, a new search term
// re-highlights.  Each loader keeps a sequence number so a slow answer that arrives
// after a newer request is dropped.

import * as api from './api.js';
import * as state from './state.js';
import { h, $, fill } from './dom.js';
import { Heatmap } from './heatmap.js';
import { FlameView } from './flame.js';
import { InvTimeline } from './timeline.js';
import { fmtS, fmtDur, fmtRange } from './fmt.js';
import './style.css'; // after flame.js: overrides d3-flame-graph's stylesheet

const app = $('#app');
let profiles = null;          // cached /profile/ answer
let cur = null;               // state of the current render
let pv = null;                // the profile view's parts, while it is shown
let hmSeq = 0, flameSeq = 0;  // request sequence numbers: only the latest answer is shown
let exportFormats = [];       // GET /api/v1/exports: the server's export formats

function showError(box, err) {
    box.replaceChildren(h('strong', {}, 'Error: '), err.message || String(err));
    box.hidden = false;
}

async function loadProfiles(force) {
    if (!profiles || force) {
        const list = await api.listProfiles();
        if (!Array.isArray(list)) throw new Error('unexpected /profile/ answer');
        profiles = list.filter((p) => p && typeof p.filename === 'string');
    }
    return profiles;
}

// Profiles by function name; groups alphabetical (top-level files last), files newest first
// (collector file names start with their UTC time, so name order is time order).
function grouped(list) {
    const groups = new Map();
    for (const p of list) {
        const g = api.groupOf(p.filename);
        if (!groups.has(g)) groups.set(g, []);
        groups.get(g).push(p);
    }
    const base = (f) => f.slice(f.lastIndexOf('/') + 1);
    for (const files of groups.values()) files.sort((a, b) => (base(a.filename) < base(b.filename) ? 1 : -1));
    return [...groups.entries()].sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a < b ? -1 : a > b ? 1 : 0));
}

// ---------------------------------------------------------------- profile list

const LIST_PAGE = 100;
// the list's columns: [sort key (null: not sortable), heading]
const LIST_COLUMNS = [['name', 'Profile'], ['time', 'Uploaded'], ['samples', 'Samples'],
    ['duration', 'Duration'], ['invocations', 'Invocations'], [null, 'Size']];
const fmtCount = (n) => Number(n).toLocaleString('en-US');
const fmtBytes = (n) => (n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`);
const fmtUploaded = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '–');
let lv = null;                // the list view's parts, while it is shown
let listSeq = 0, listTimer = null;

function listQuery(s) {
    const sort = LIST_COLUMNS.some(([k]) => k && k === s.sort) ? s.sort : 'time';
    const order = s.order === 'asc' || s.order === 'desc' ? s.order : sort === 'name' ? 'asc' : 'desc';
    const offset = Math.max(0, parseInt(s.offset, 10) || 0);
    return { sort, order, offset, limit: LIST_PAGE, q: s.q || '' };
}

function buildListView() {
    const parts = {
        err: h('div', { class: 'error', hidden: true }),
        filter: h('input', { type: 'search', id: 'filter', placeholder: 'Filter profiles…', autocomplete: 'off' }),
        heads: [],
        tbody: h('tbody', {}),
        status: h('p', { class: 'muted', id: 'list-status' }, 'Loading…'),
        range: h('span', { id: 'list-range', class: 'muted' }),
        prev: h('button', { type: 'button', id: 'list-prev', onclick: () => pageBy(-1) }, '← Previous'),
        next: h('button', { type: 'button', id: 'list-next', onclick: () => pageBy(1) }, 'Next →'),
    };
    let typing = null;
    parts.filter.addEventListener('input', () => {
        clearTimeout(typing);
        typing = setTimeout(() => state.update({ q: parts.filter.value.trim(), offset: null }, true), 250);
    });
    const row = h('tr', {}, LIST_COLUMNS.map(([key, label]) => {
        const th = h('th', { class: key ? 'sortable' : null, dataset: { sort: key || '' }, scope: 'col' },
            key ? h('button', { type: 'button', onclick: () => sortBy(key) }, label) : label);
        parts.heads.push(th);
        return th;
    }));
    parts.table = h('table', { class: 'profiles', id: 'profiles' }, h('thead', {}, row), parts.tbody);
    parts.root = h('section', { class: 'list' },
        h('div', { class: 'list-head' }, h('h1', {}, 'Profiles'), parts.filter,
            h('button', { type: 'button', id: 'reload', onclick: () => loadList(state.read()) }, 'Reload')),
        parts.err, parts.table, parts.status,
        h('div', { class: 'pager' }, parts.prev, parts.range, parts.next));
    app.replaceChildren(parts.root);
    return parts;
}

function sortBy(key) {
    const q = listQuery(state.read());
    // a click on the current column flips it; another column starts in its natural order
    const order = q.sort === key ? (q.order === 'asc' ? 'desc' : 'asc') : key === 'name' ? 'asc' : 'desc';
    state.update({ sort: key, order, offset: null });
}

function pageBy(dir) {
    const q = listQuery(state.read());
    const offset = Math.max(0, q.offset + dir * LIST_PAGE);
    state.update({ offset: offset ? String(offset) : null });
}

function listRow(p) {
    const fn = p.name || '';
    const ready = p.index === 'ready';
    const notIndexed = p.index === 'pending' ? 'not indexed (indexing…)'
        : p.index === 'failed' ? 'not indexed (unreadable)' : 'not indexed';
    const idle = ready && !p.samples;
    const cls = ['profile-row', ready ? null : 'not-indexed', idle ? 'idle' : null].filter(Boolean).join(' ');
    return h('tr', { class: cls, dataset: { filename: p.filename, fn, index: p.index } },
        h('td', { class: 'name' }, fn ? h('span', { class: 'fn' }, `${fn} / `) : null,
            h('a', { class: 'profile', href: state.href({ file: p.filename }), dataset: { filename: p.filename } },
                fn ? p.filename.slice(fn.length + 1) : p.filename)),
        h('td', { class: 'when' }, fmtUploaded(p.uploaded)),
        ready ? h('td', { class: 'num samples' }, fmtCount(p.samples), idle ? h('span', { class: 'idle-tag' }, 'idle') : null)
            : h('td', { class: 'num samples muted', colspan: 3 }, notIndexed),
        ready ? h('td', { class: 'num duration' }, fmtDur(p.duration)) : null,
        ready ? h('td', { class: 'num invocations' }, fmtCount(p.invocations)) : null,
        h('td', { class: 'num size' }, fmtBytes(p.bytes)));
}

async function loadList(s) {
    const q = listQuery(s);
    const seq = ++listSeq;
    clearTimeout(listTimer);
    for (const th of lv.heads) {
        const on = th.dataset.sort === q.sort;
        th.classList.toggle('sorted', on);
        if (on) th.setAttribute('aria-sort', q.order === 'asc' ? 'ascending' : 'descending');
        else th.removeAttribute('aria-sort');
        th.dataset.order = on ? q.order : '';
    }
    let page;
    try {
        page = await api.profilePage(q);
    } catch (e) {
        if (seq !== listSeq || !lv) return;
        showError(lv.err, e);
        lv.status.textContent = '';
        return;
    }
    if (seq !== listSeq || !lv) return;
    lv.err.hidden = true;
    const { list, total } = page;
    fill(lv.tbody, list.map(listRow));
    // what the rows show (tests wait for these: the headings change before the answer)
    Object.assign(lv.table.dataset, { total: String(total), offset: String(q.offset), sort: q.sort, order: q.order, q: q.q });
    lv.status.textContent = list.length ? '' : total ? 'No profile on this page.' : q.q ? 'No profile matches.'
        : 'No profiles yet. Upload one to the collector, or put perf script files in the directory.';
    lv.range.textContent = list.length
        ? `${fmtCount(q.offset + 1)}–${fmtCount(q.offset + list.length)} of ${fmtCount(total)}` : '';
    lv.prev.disabled = q.offset === 0;
    lv.next.disabled = q.offset + list.length >= total;
    // traces being indexed in the background: look again shortly
    if (list.some((p) => p.index === 'pending')) {
        listTimer = setTimeout(() => { if (lv && seq === listSeq) loadList(state.read()); }, 1500);
    }
}

async function renderList(s) {
    if (pv) { pv.heatmap.destroy(); if (pv.timeline) pv.timeline.destroy(); }
    pv = null;
    document.title = 'fntrace flamescope';
    if (!lv || !app.contains(lv.root)) lv = buildListView();
    if (document.activeElement !== lv.filter) lv.filter.value = s.q || '';
    await loadList(s);
}

// ---------------------------------------------------------------- profile view

function buildProfileView(s) {
    const fn = api.groupOf(s.file);
    const rowsSel = h('span', { class: 'seg', role: 'group', 'aria-label': 'rows' },
        state.ROW_CHOICES.map((r) => h('button', {
            type: 'button', class: 'rows', dataset: { rows: r },
            onclick: () => state.update({ rows: r }),
        }, String(r))));
    const parts = {
        file: null, rows: null,
        heatmapData: null, invs: [],
        hmErr: h('div', { class: 'error', hidden: true }),
        hmBox: h('div', { id: 'heatmap', class: 'heatmap' }, h('p', { class: 'muted' }, 'Loading heatmap…')),
        hmDetails: h('div', { id: 'hm-details', class: 'details' }, 'Click the first cell of a range, then the last.'),
        hmLegend: h('span', { class: 'hm-legend' }),
        rowsSel,
        banner: h('div', { id: 'compare-banner', class: 'banner', hidden: true }),
        invCard: h('section', { class: 'card', id: 'invocations', hidden: true }),
        flameTitle: h('h2', { id: 'flame-title' }, 'Flame graph'),
        flameErr: h('div', { class: 'error', hidden: true }),
        flameDetails: h('div', { id: 'flame-details', class: 'details' }),
        searchStatus: h('span', { id: 'search-status', class: 'search-status' }),
        flameBox: h('div', { id: 'flame', class: 'flame' }),
        tools: h('div', { class: 'flame-tools' }),
    };
    parts.search = h('input', { type: 'search', id: 'search', placeholder: 'Search frames (regexp)', autocomplete: 'off' });
    const searchForm = h('form', {
        class: 'search', onsubmit: (e) => {
            e.preventDefault();
            state.update({ search: parts.search.value.trim() });
        },
    }, parts.search, h('button', { type: 'submit' }, 'Search'),
    h('button', { type: 'button', onclick: () => { parts.search.value = ''; state.update({ search: null }); } }, 'Clear'));
    parts.flameToolbar = h('div', { class: 'toolbar' }, searchForm,
        h('button', { type: 'button', id: 'reset-zoom', onclick: () => parts.flame.resetZoom() }, 'Reset zoom'),
        h('button', {
            type: 'button', id: 'layout', onclick: () => state.update({ layout: cur.layout === 'icicle' ? null : 'icicle' }),
        }, 'Icicle'),
        parts.tools);

    parts.heatmap = new Heatmap(parts.hmBox, {
        onHover: (t) => { parts.hmDetails.textContent = t || 'Click the first cell of a range, then the last.'; },
        onSelect: (a, b) => state.update({ start: state.secs(a), end: state.secs(b), inv: null }),
        onInvocation: (inv) => state.update({ inv: String(inv.id), start: null, end: null }),
        onZoom: (a, b) => {
            zoomInvocations(a, b);
            parts.invCard.scrollIntoView({ block: 'nearest' });
        },
        onInvocationHover: (inv) => {
            parts.hmDetails.textContent = inv
                ? `invocation ${inv.id} (${inv.fn}): ${fmtS(inv.start)} – ${fmtS(inv.end)}, ${fmtDur(inv.end - inv.start)}, status ${inv.status}`
                : '';
        },
    });
    parts.flame = new FlameView(parts.flameBox, {
        onDetails: (t) => { parts.flameDetails.textContent = t; },
        onSearch: (r) => {
            parts.searchStatus.dataset.matches = r ? String(r.frames) : '';
            parts.searchStatus.textContent = r
                ? `${r.frames} frame${r.frames === 1 ? '' : 's'} match, ${r.samples} of ${r.total} samples (${r.total ? ((100 * r.samples) / r.total).toFixed(2) : '0.00'}%)`
                : '';
        },
    });

    app.replaceChildren(h('section', { class: 'profile-view' },
        h('div', { class: 'pv-head' },
            h('a', { href: '#', class: 'back' }, '← Profiles'),
            h('h1', { id: 'profile-title' }, fn ? h('span', { class: 'fn' }, `${fn} / `) : null, fn ? s.file.slice(fn.length + 1) : s.file)),
        parts.banner,
        h('section', { class: 'card' },
            h('div', { class: 'card-head' }, h('h2', {}, 'Subsecond heatmap'),
                h('span', { class: 'spacer' }), parts.hmLegend,
                h('label', { class: 'rows-label' }, 'Rows'), rowsSel,
                h('button', { type: 'button', id: 'whole', onclick: () => wholeProfile() }, 'Whole profile')),
            parts.hmErr, parts.hmBox, parts.hmDetails),
        parts.invCard,
        h('section', { class: 'card', id: 'flame-card' },
            h('div', { class: 'card-head' }, parts.flameTitle, h('span', { class: 'spacer' }), parts.searchStatus),
            parts.flameToolbar, parts.flameErr, parts.flameDetails, parts.flameBox,
            h('div', { class: 'legend', id: 'flame-legend' }))));
    return parts;
}

function wholeProfile() {
    if (!pv || !pv.heatmapData) return;
    state.update({ start: '0', end: String(pv.heatmapData.columns.length), inv: null });
}

function invById(id) {
    return pv.invs.find((i) => String(i.id) === String(id));
}

// Whether the hash names a time range: start, end or both (an invocation is not one).
const wantsRange = (s) => !s.inv && (s.start !== undefined || s.end !== undefined);

// The end of the profile in heatmap seconds (its column count), null until the heatmap is in.
const profileEnd = () => (pv && pv.heatmapData ? pv.heatmapData.columns.length : null);

// A range as the server reads start/end (FlameScope's semantics): seconds from the first
// whole second, a missing start is 0, a missing end or end=0 is the end of the profile.
// [start, end]; end is null while the end of the profile is not known.
function resolveRange(start, end, profEnd) {
    const a = Number(start ?? 0);
    const b = Number(end ?? 0);
    return [a, b === 0 ? profEnd : b];
}

// The time range the flame graph shows (for exports and as a compare baseline), or null.
function currentRange(s) {
    if (s.inv) {
        const inv = invById(s.inv);
        return inv ? [inv.start, inv.end] : null;
    }
    if (!wantsRange(s)) return null;
    return resolveRange(s.start, s.end, profileEnd());
}

// "1.000 s – 3.000 s (2.000 s)", or "1.000 s – end of profile" when the end is not known.
function rangeLabel(r) {
    return r[1] === null ? `${fmtS(r[0])} – end of profile` : fmtRange(r[0], r[1]);
}

// The range as the URL and the API carry it (an unknown end stays 0: the end of the profile).
const rangeArgs = (r) => [state.secs(r[0]), r[1] === null ? '0' : state.secs(r[1])];

async function loadHeatmap(s) {
    const seq = ++hmSeq;
    pv.hmKey = `${s.file}\n${s.rows}`;
    pv.hmErr.hidden = true;
    pv.heatmapData = null;
    pv.hmBox.replaceChildren(h('p', { class: 'muted' }, 'Loading heatmap…'));
    for (const b of pv.rowsSel.children) b.classList.toggle('on', Number(b.dataset.rows) === s.rows);
    const [hm, invs] = await Promise.allSettled([api.heatmap(s.file, s.rows), api.invocations(s.file)]);
    if (seq !== hmSeq) return;
    // A profile without fntrace header lines has no invocations; any error there is not fatal.
    // Times on the heatmap's scale: rel_start/rel_end when the server gives them beside the
    // raw header times, else start/end.
    pv.invs = invs.status === 'fulfilled' && Array.isArray(invs.value) ? invs.value
        .filter((i) => i && typeof i === 'object')
        .map((i) => {
            const rel = 'rel_start' in i && 'rel_end' in i;
            return { ...i, start: Number(rel ? i.rel_start : i.start), end: Number(rel ? i.rel_end : i.end) };
        }) : [];
    renderInvocations();
    if (hm.status === 'rejected') {
        pv.hmBox.replaceChildren();
        showError(pv.hmErr, hm.reason);
        return;
    }
    const d = hm.value;
    if (!d || !Array.isArray(d.columns) || !Array.isArray(d.rows) || !Array.isArray(d.values)) {
        pv.hmBox.replaceChildren();
        showError(pv.hmErr, new Error('unexpected /heatmap/ answer'));
        return;
    }
    pv.heatmapData = d;
    if (pv.invs.length) renderInvocations(); // the timeline now knows where the profile ends
    pv.hmLegend.replaceChildren('0', h('span', { class: 'ramp' }), `${d.maxvalue} sample${d.maxvalue === 1 ? '' : 's'} per cell`);
    if (!d.columns.length) {
        pv.hmBox.replaceChildren(h('p', { class: 'muted' }, 'This profile has no samples.'));
        return;
    }
    pv.heatmap.render(d, pv.invs);
    syncHeatmap(cur);
}

// Selection and active invocation on the heatmap follow the state.
function syncHeatmap(s) {
    if (!pv.heatmapData) return;
    const r = s.inv ? null : currentRange(s);
    pv.heatmap.setSelection(r && r[1] !== null ? r : null);
    pv.heatmap.setBaseline(s.base === s.file ? resolveRange(s.bs, s.be, profileEnd()) : null);
    pv.heatmap.setActiveInvocation(s.inv || null);
    for (const tr of pv.invCard.querySelectorAll('tr[data-id]')) tr.classList.toggle('on', tr.dataset.id === s.inv);
    for (const bar of pv.invCard.querySelectorAll('.inv-timeline .inv')) bar.classList.toggle('active', bar.dataset.id === s.inv);
}

// The invocations card: the timeline (a zoomable window of the profile, see timeline.js)
// and the table of the window's invocations, filtered by function, sorted by start or by
// duration (longest first), INV_PAGE rows a page.  The window and the page are kept in
// the URL (tw, ipage: a reload or a shared link shows the same rows), replacing the
// history entry; the function filter and the sort are view-local.
const INV_PAGE = 100;

function invWindow(opt) {
    const end = profileEnd() ?? pv.invs.reduce((m, i) => Math.max(m, i.end), 0);
    return opt.window ? [opt.window[0], opt.window[1], end] : [0, end, end];
}

function zoomInvocations(a, b) {
    const opt = pv.invOpts;
    opt.window = a === null ? null : [a, b];
    opt.page = 0;
    renderInvocations();
}

function renderInvocations() {
    const invs = pv.invs;
    pv.invCard.hidden = !invs.length;
    if (!invs.length) return;
    const opt = pv.invOpts || (pv.invOpts = {
        fn: '', sort: 'start', page: cur.ipage ? Number(cur.ipage) - 1 : null, window: state.timelineWindow(cur.tw),
    });
    const [w0, w1, end] = invWindow(opt);
    const fns = [...new Set(invs.map((i) => String(i.fn ?? '')))].sort();
    const shown = invs.filter((i) => (!opt.fn || String(i.fn ?? '') === opt.fn) && (!opt.window || (i.end >= w0 && i.start <= w1)))
        .sort(opt.sort === 'duration' ? (a, b) => (b.end - b.start) - (a.end - a.start) : (a, b) => a.start - b.start);
    const pages = Math.max(1, Math.ceil(shown.length / INV_PAGE));
    if (opt.page === null) {
        // a link to an invocation opens the page that lists it
        const at = cur.inv ? shown.findIndex((i) => String(i.id) === cur.inv) : -1;
        opt.page = at < 0 ? 0 : Math.floor(at / INV_PAGE);
    }
    opt.page = Math.min(Math.max(0, opt.page), pages - 1);
    const first = opt.page * INV_PAGE, last = Math.min(shown.length, first + INV_PAGE);
    const rows = shown.slice(first, last).map((inv) => h('tr', {
        dataset: { id: String(inv.id) },
        class: [Number(inv.status) >= 400 || Number(inv.status) < 200 ? 'failed' : '', String(inv.id) === cur.inv ? 'on' : '']
            .join(' ').trim() || null,
        onclick: () => state.update({ inv: String(inv.id), start: null, end: null }),
    }, h('td', {}, h('a', { href: state.href({ ...cur, inv: String(inv.id), start: null, end: null }) }, String(inv.id))),
    h('td', {}, String(inv.fn ?? '')), h('td', { class: 'num' }, fmtS(inv.start)),
    h('td', { class: 'num' }, fmtDur(inv.end - inv.start)), h('td', { class: 'num' }, String(inv.status ?? '')),
    h('td', { class: 'num', title: inv.tid == null ? 'no thread in the trace: the flame graph is every thread in the window' : null },
        inv.tid == null ? '–' : String(inv.tid))));
    const sortBy = (key, label) => h('th', { class: 'num' }, h('button', {
        type: 'button', class: `sort${opt.sort === key ? ' on' : ''}`, title: `sort by ${label}`,
        onclick: () => { opt.sort = key; opt.page = 0; renderInvocations(); },
    }, label));
    const turn = (d) => () => { opt.page += d; renderInvocations(); };
    const of = shown.length === invs.length ? `${invs.length}` : `${shown.length} (${invs.length} in the profile)`;
    if (!pv.timeline) {
        pv.timeline = new InvTimeline({
            onZoom: zoomInvocations,
            onInvocation: (inv) => state.update({ inv: String(inv.id), start: null, end: null }),
            onInvocationHover: (inv) => { pv.heatmap.setHoverInvocation(inv); pv.heatmap.opts.onInvocationHover(inv); },
        });
    }
    fill(pv.invCard,
        h('div', { class: 'card-head' }, h('h2', {}, `Invocations (${invs.length})`),
            h('span', { class: 'muted' }, 'Click one (here, on the timeline or on its bar above the heatmap) to see its flame graph.'),
            h('span', { class: 'spacer' }),
            fns.length > 1 ? h('select', {
                id: 'inv-fn', 'aria-label': 'function',
                onchange: (e) => { opt.fn = e.target.value; opt.page = 0; renderInvocations(); },
            }, h('option', { value: '' }, 'all functions'),
            fns.map((f) => h('option', { value: f, selected: f === opt.fn }, `${f} (${invs.filter((i) => String(i.fn ?? '') === f).length})`))) : null),
        pv.timeline.box,
        h('div', { class: 'table-wrap' }, h('table', { class: 'invs' },
            h('thead', {}, h('tr', {}, h('th', {}, 'id'), h('th', {}, 'function'), sortBy('start', 'start'),
                sortBy('duration', 'duration'), h('th', { class: 'num' }, 'status'),
                h('th', { class: 'num', title: 'the thread that ran it: its flame graph holds that thread only' }, 'thread'))),
            h('tbody', {}, rows))),
        h('div', { class: 'pager', id: 'inv-pager' },
            h('button', { type: 'button', id: 'inv-prev', disabled: opt.page === 0, onclick: turn(-1) }, '← Previous'),
            h('span', { class: 'inv-count', id: 'inv-count' },
                shown.length ? `${first + 1}–${last} of ${of}` : `none of ${invs.length} in this window`),
            h('button', { type: 'button', id: 'inv-next', disabled: opt.page >= pages - 1, onclick: turn(1) }, 'Next →'),
            h('span', { class: 'muted' }, `page ${opt.page + 1} of ${pages}`)));
    pv.timeline.render(invs, [w0, w1], end, cur.inv);
    pv.heatmap.setZoomWindow(opt.window);
    state.update({
        tw: opt.window ? `${state.secs(opt.window[0])},${state.secs(opt.window[1])}` : null,
        ipage: opt.page ? String(opt.page + 1) : null,
    }, true);
}

function rangeText(file, r) {
    return `${file} [${rangeLabel(r)}]`;
}

function renderBanner(s) {
    if (!s.base) {
        pv.banner.hidden = true;
        return;
    }
    const sel = h('select', {
        id: 'compare-file',
        onchange: (e) => state.update({ file: e.target.value, start: null, end: null, inv: null, tw: null, ipage: null }),
    }, grouped(profiles || [{ filename: s.file }]).map(([fn, files]) => h('optgroup', { label: fn || 'other files' },
        files.map((p) => h('option', { value: p.filename, selected: p.filename === s.file }, p.filename)))));
    const comparing = currentRange(s) !== null;
    fill(pv.banner,
        h('span', {}, h('strong', {}, 'Baseline: '), rangeText(s.base, resolveRange(s.bs, s.be, s.base === s.file ? profileEnd() : null)), '. '),
        comparing ? null : h('span', {}, 'Now select the range to compare with it, on this profile or on '), comparing ? null : sel,
        comparing ? h('span', { class: 'seg' },
            h('button', { type: 'button', class: s.view !== 'elided' ? 'on' : null, onclick: () => state.update({ view: null }) }, 'Differential'),
            h('button', { type: 'button', class: s.view === 'elided' ? 'on' : null, onclick: () => state.update({ view: 'elided' }) }, 'Elided')) : null,
        comparing ? h('button', { type: 'button', id: 'flip', onclick: () => flip(s) }, 'Swap') : null,
        h('button', { type: 'button', id: 'compare-cancel', onclick: () => state.update({ base: null, bs: null, be: null, view: null }) }, 'End compare'));
    pv.banner.hidden = false;
}

function flip(s) {
    const r = currentRange(s);
    const [bs, be] = rangeArgs(r);
    state.update({ file: s.base, start: s.bs, end: s.be, inv: null, base: s.file, bs, be });
}

function startCompare(s) {
    const r = currentRange(s);
    if (!r) return;
    const [bs, be] = rangeArgs(r);
    state.update({ base: s.file, bs, be, start: null, end: null, inv: null, view: null });
}

function copyLink(btn) {
    const done = () => { btn.textContent = 'Copied'; setTimeout(() => { btn.textContent = 'Copy link'; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(location.href).then(done, () => window.prompt('Link:', location.href));
    else window.prompt('Link:', location.href);
}

function renderTools(s, range) {
    // an invocation exports exactly its samples; a range exports [start, end]
    const href = (f) => (s.inv && !s.base ? api.exportURL(s.file, { invocation: s.inv }, f)
        : api.exportURL(s.file, { start: rangeArgs(range)[0], end: rangeArgs(range)[1] }, f));
    const exports = (range || s.inv) && exportFormats.length ? h('span', { class: 'exports' }, 'Export:', exportFormats.map((f) =>
        h('a', { href: href(f.name), download: '', title: f.description || '', dataset: { format: f.name } }, f.name))) : null;
    fill(pv.tools,
        range && !s.base ? h('button', { type: 'button', id: 'compare', onclick: () => startCompare(s) }, 'Compare…') : null,
        exports,
        h('button', { type: 'button', id: 'copy-link', onclick: (e) => copyLink(e.target) }, 'Copy link'));
    $('#layout').textContent = s.layout === 'icicle' ? 'Flame' : 'Icicle';
}

function renderLegend(diff) {
    const box = $('#flame-legend');
    const sw = (cls, text) => h('span', { class: 'key' }, h('i', { class: cls }), text);
    box.replaceChildren(...(diff
        ? [sw('k-more', 'more samples than the baseline'), sw('k-less', 'fewer samples'), sw('k-same', 'same'), sw('k-new', 'only here')]
        : [sw('k-user', 'user'), sw('k-cpp', 'C++ (::)'), sw('k-kernel', 'kernel'), sw('k-jit', 'JIT'), sw('k-inlined', 'inlined')]));
}

async function loadFlame(s) {
    const seq = ++flameSeq;
    pv.flameErr.hidden = true;
    pv.flameDetails.textContent = '';
    const range = currentRange(s);
    renderTools(s, range);
    renderBanner(s);
    const diff = !!(s.base && range);
    renderLegend(diff);
    let title, load;
    if (s.inv && !diff) {
        const inv = invById(s.inv);
        title = inv ? `Invocation ${inv.id} (${inv.fn}): ${fmtRange(inv.start, inv.end)}, status ${inv.status}`
            : `Invocation ${s.inv}`;
        load = () => api.invocationFlamegraph(s.file, s.inv);
    } else if (diff) {
        const kind = s.view === 'elided' ? 'elided' : 'differential';
        title = `${kind === 'elided' ? 'Elided' : 'Differential'}: ${rangeText(s.file, range)} vs baseline`;
        load = () => api.compare(kind, s.file, ...rangeArgs(range), s.base, s.bs, s.be);
    } else if (range) {
        title = `Flame graph: ${rangeLabel(range)}`;
        load = () => api.flamegraph(s.file, ...rangeArgs(range));
    } else {
        pv.flameTitle.textContent = 'Flame graph';
        pv.flame.render(null);
        pv.flameToolbar.hidden = true;
        pv.flameBox.replaceChildren(h('p', { class: 'muted prompt' }, s.base
            ? 'Select the range to compare with the baseline: click its first cell on the heatmap, then its last (or pick an invocation).'
            : 'Select a range on the heatmap (click its first cell, then its last), pick an invocation, or show the whole profile.'));
        return;
    }
    pv.flameTitle.textContent = title;
    pv.flameToolbar.hidden = false;
    pv.flameBox.replaceChildren(h('p', { class: 'muted' }, 'Loading flame graph…'));
    let data;
    try {
        data = await load();
    } catch (e) {
        if (seq !== flameSeq) return;
        pv.flameBox.replaceChildren();
        showError(pv.flameErr, e);
        return;
    }
    if (seq !== flameSeq) return;
    const tree = api.toFlameTree(data || {});
    if (!tree.value) {
        pv.flame.render(null);
        pv.flameBox.replaceChildren(h('p', { class: 'muted' }, 'No samples in this range.'));
        return;
    }
    pv.search.value = s.search || '';
    pv.flame.render(tree, { differential: diff && s.view !== 'elided', inverted: s.layout === 'icicle', search: s.search || '' });
    pv.flameBox.dataset.total = String(tree.value);
    pv.flameTitle.textContent = `${title} — ${tree.value} sample${tree.value === 1 ? '' : 's'}`;
}

async function render() {
    const s = state.read();
    const prev = cur;
    cur = s;
    if (!s.file) {
        await renderList(s);
        return;
    }
    lv = null;
    clearTimeout(listTimer);
    const same = (keys) => prev && keys.every((k) => prev[k] === s[k]);
    if (!pv || !same(['file'])) {
        if (pv) { pv.heatmap.destroy(); if (pv.timeline) pv.timeline.destroy(); }
        pv = buildProfileView(s);
        document.title = `${s.file} — fntrace flamescope`;
        loadProfiles().catch(() => {}).then(() => { if (pv && cur.base) renderBanner(cur); });
    }
    if (pv.hmKey !== `${s.file}\n${s.rows}`) {
        const hmDone = loadHeatmap(s);
        // an invocation's range comes from the invocation list, the end of the profile
        // (end=0 or none) from the heatmap: wait for them
        if (s.inv || (wantsRange(s) && Number(s.end ?? 0) === 0)) await hmDone;
        if (cur !== s) return;
        loadFlame(s);
        return;
    }
    syncHeatmap(s);
    if (!same(['start', 'end', 'inv', 'base', 'bs', 'be', 'view'])) {
        loadFlame(s);
    } else if (!same(['layout'])) {
        renderTools(s, currentRange(s));
        pv.flame.setInverted(s.layout === 'icicle');
    } else if (!same(['search'])) {
        pv.search.value = s.search || '';
        pv.flame.search(s.search || '');
    }
}

let resizeTimer = null;
window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
        if (!pv) return;
        if (pv.heatmapData && pv.heatmapData.columns.length) {
            pv.heatmap.render(pv.heatmapData, pv.invs);
            syncHeatmap(cur);
        }
        if (pv.invs.length) renderInvocations();
        pv.flame.resize();
    }, 200);
});
window.addEventListener('hashchange', () => { render(); });
// the export links come from the server's list; redraw the tools once it is in
api.exportFormats().then((list) => {
    if (!Array.isArray(list)) return;
    exportFormats = list.filter((f) => f && typeof f.name === 'string');
    if (pv && cur && cur.file) renderTools(cur, currentRange(cur));
}).catch(() => {});
render();
