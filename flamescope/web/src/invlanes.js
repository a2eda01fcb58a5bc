// invlanes.js — invocation lanes, drawn into an SVG group for the heatmap (lanes above its
// columns) and for the invocation timeline (one time window across the card's width).
//
// A few invocations are drawn one bar each, in greedy lanes so that none hides another.
// When they would not fit (more than MAX_BARS in view, or more overlapping than there are
// lanes) they are aggregated instead: one lane per function (the busiest MAX_LANES - 1,
// the rest together as "other"), labelled with its count, each a density strip of
// buckets coloured by how many invocations start in them.  A bucket is clickable: the
// caller zooms into its time (the timeline then shows that window's invocations one by
// one).  Counting by start keeps every invocation in exactly one bucket.
//
// Times are seconds on the heatmap's scale; x(t) maps them to pixels.  Pure drawing:
// callers keep the state (window, active invocation) and the listeners' effects.

import { fmtS, fmtDur, plural } from './fmt.js';

const SVGNS = 'http://www.w3.org/2000/svg';
export const LANE_H = 14;
export const MAX_LANES = 8;
export const MAX_BARS = 150;          // above this many in view, lanes are aggregated
export const MIN_BAR = 3;             // px: the narrowest invocation bar
const MIN_BUCKET = 6;                 // px: the narrowest density bucket
const STEPS = [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60,
    120, 300, 600, 1800, 3600];

export function el(name, attrs, parent) {
    const e = document.createElementNS(SVGNS, name);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    if (parent) parent.appendChild(e);
    return e;
}

// The smallest round step (seconds) that is at least `px` pixels wide at `pps` px/s.
export function niceStep(px, pps) {
    return STEPS.find((s) => s * pps >= px) || STEPS[STEPS.length - 1] * Math.ceil(px / pps / 3600);
}

export const invOk = (inv) => Number(inv.status) >= 200 && Number(inv.status) < 400;

// Greedy lane assignment so that invocations do not hide each other: overlapping in time,
// or closer than minDur (the time a bar's minimum width stands for).  `overflow` says
// that some had to share a lane with one they touch.
export function assignLanes(invs, minDur) {
    const ends = [];
    const sorted = [...invs].sort((a, b) => a.start - b.start);
    const lane = new Map();
    let overflow = false;
    for (const inv of sorted) {
        const end = Math.max(inv.end, inv.start + minDur);
        let i = ends.findIndex((e) => e <= inv.start);
        if (i < 0) {
            if (ends.length < MAX_LANES) {
                i = ends.push(end) - 1;
            } else {
                i = ends.indexOf(Math.min(...ends));
                overflow = true;
            }
        }
        ends[i] = Math.max(ends[i] ?? 0, end);
        lane.set(inv, i);
    }
    return { lane, count: ends.length, overflow };
}

// How to draw INVS at PPS pixels per second: {aggregate, lanes (bar lanes), groups}.
export function plan(invs, pps) {
    const lanes = assignLanes(invs, (MIN_BAR + 1) / pps);
    if (invs.length <= MAX_BARS && !lanes.overflow) return { aggregate: false, lanes, count: lanes.count };
    const byFn = new Map();
    for (const inv of invs) {
        const fn = String(inv.fn ?? '');
        if (!byFn.has(fn)) byFn.set(fn, []);
        byFn.get(fn).push(inv);
    }
    let groups = [...byFn.entries()].sort((a, b) => b[1].length - a[1].length || (a[0] < b[0] ? -1 : 1));
    if (groups.length > MAX_LANES) {
        const rest = groups.slice(MAX_LANES - 1).flatMap(([, l]) => l);
        groups = [...groups.slice(0, MAX_LANES - 1), ['', rest]];
        groups[groups.length - 1].other = true;
    }
    return { aggregate: true, groups, count: groups.length };
}

// Draws one bar per invocation.  opt: {x, t0, t1, y0, plan, onClick, onHover}.
// Returns [{inv, bar}].
export function drawBars(g, invs, opt) {
    const out = [];
    for (const inv of invs) {
        const lane = opt.plan.lanes.lane.get(inv) || 0;
        const x0 = opt.x(Math.max(opt.t0, inv.start));
        const x1 = opt.x(Math.min(opt.t1, inv.end));
        const bar = el('rect', {
            class: `inv${invOk(inv) ? '' : ' failed'}`,
            x: x0, y: opt.y0 + lane * LANE_H + 2, width: Math.max(MIN_BAR, x1 - x0), height: LANE_H - 4, rx: 2,
            'data-id': inv.id,
        }, g);
        el('title', {}, bar).textContent = `invocation ${inv.id} (${inv.fn}): ${fmtS(inv.start)} – ${fmtS(inv.end)}, ` +
            `${fmtDur(inv.end - inv.start)}, status ${inv.status}`;
        bar.addEventListener('click', () => opt.onClick(inv));
        bar.addEventListener('mouseenter', () => opt.onHover(inv));
        bar.addEventListener('mouseleave', () => opt.onHover(null));
        out.push({ inv, bar });
    }
    return out;
}

// Draws the per-function density lanes.  opt: {x, t0, t1, y0, pps, plan, onBucket, onHover}.
// onBucket(t0, t1, step) is called on a click, onHover(text | '') when the pointer moves
// onto a bucket or off it (optional).
export function drawDensity(g, opt) {
    const step = niceStep(MIN_BUCKET, opt.pps);
    const first = Math.floor(opt.t0 / step);
    const n = Math.max(1, Math.ceil(opt.t1 / step) - first);
    opt.plan.groups.forEach(([fn, list], laneNo) => {
        const y = opt.y0 + laneNo * LANE_H;
        const label = list.other ? 'other functions' : fn || '(no function)';
        const lane = el('g', { class: 'inv-lane', 'data-fn': list.other ? '' : fn, 'data-count': list.length }, g);
        const counts = new Array(n).fill(0), failed = new Array(n).fill(0);
        for (const inv of list) {
            const b = Math.floor(inv.start / step) - first;
            if (b < 0 || b >= n) continue;
            counts[b]++;
            if (!invOk(inv)) failed[b]++;
        }
        const max = Math.max(1, ...counts);
        for (let b = 0; b < n; b++) {
            if (!counts[b]) continue;
            const t0 = (first + b) * step, t1 = t0 + step;
            const x0 = opt.x(Math.max(opt.t0, t0)), x1 = opt.x(Math.min(opt.t1, t1));
            const r = el('rect', {
                class: `inv-bucket${failed[b] ? ' failed' : ''}`,
                x: x0, y: y + 2, width: Math.max(1, x1 - x0 - 1), height: LANE_H - 4,
                'fill-opacity': (0.2 + (0.8 * counts[b]) / max).toFixed(3),
                'data-count': counts[b], 'data-start': t0, 'data-end': t1,
            }, lane);
            const text = `${label}: ${plural(counts[b], 'invocation')} started ` +
                `${fmtS(t0)} – ${fmtS(t1)}${failed[b] ? `, ${failed[b]} failed` : ''} (click to zoom in)`;
            el('title', {}, r).textContent = text;
            r.addEventListener('click', () => opt.onBucket(t0, t1, step));
            if (opt.onHover) {
                r.addEventListener('mouseenter', () => opt.onHover(text));
                r.addEventListener('mouseleave', () => opt.onHover(''));
            }
        }
        el('text', { class: 'inv-lane-label', x: opt.x(opt.t0) + 3, y: y + LANE_H / 2 }, lane)
            .textContent = `${label} · ${list.length}`;
    });
    return step;
}
