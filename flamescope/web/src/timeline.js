// timeline.js — the invocation timeline of the invocations card: one time window of the
// profile across the card's width, with a seconds axis.  In the window, invocations are
// bars (click one for its flame graph) or, when too many to read, per-function density
// lanes (invlanes.js).  Zoom in by dragging across a stretch of it or by clicking a
// density bucket; "Zoom out" doubles the window, "Whole profile" resets it.
//
// The window is the caller's (main.js keeps it with the table's settings, so the table
// lists the window's invocations); this class draws it and reports zoom requests through
// opts.onZoom(start, end) (null, null: whole profile).

import { h } from './dom.js';
import { el, plan, drawBars, drawDensity, niceStep, LANE_H } from './invlanes.js';
import { fmtS } from './fmt.js';

const PAD = 8, AXIS = 18, MIN_WINDOW = 0.001;

export class InvTimeline {
    // opts: onZoom(start|null, end|null), onInvocation(inv), onInvocationHover(inv|null)
    constructor(opts) {
        this.opts = opts;
        this.box = h('div', { class: 'inv-timeline', id: 'inv-timeline' });
        this.view = null;
        this.dragFrom = null;          // seconds where a drag started
        this.onMove = (e) => this.dragMove(e);
        this.onUp = (e) => this.dragEnd(e);
        window.addEventListener('mousemove', this.onMove);
        window.addEventListener('mouseup', this.onUp);
    }

    destroy() {
        window.removeEventListener('mousemove', this.onMove);
        window.removeEventListener('mouseup', this.onUp);
    }

    timeAt(e) {
        const v = this.view;
        return v.t0 + (e.clientX - v.svg.getBoundingClientRect().left - PAD) / v.pps;
    }

    dragMove(e) {
        if (this.dragFrom === null || !this.view) return;
        const v = this.view;
        const a = Math.min(this.dragFrom, this.timeAt(e)), b = Math.max(this.dragFrom, this.timeAt(e));
        v.brush.setAttribute('x', PAD + (a - v.t0) * v.pps);
        v.brush.setAttribute('width', (b - a) * v.pps);
        v.brush.setAttribute('visibility', 'visible');
    }

    dragEnd(e) {
        if (this.dragFrom === null || !this.view) return;
        const v = this.view, t = this.timeAt(e);
        const a = Math.max(0, Math.min(this.dragFrom, t)), b = Math.min(v.profEnd, Math.max(this.dragFrom, t));
        const moved = Math.abs(t - this.dragFrom) * v.pps > 4;
        this.dragFrom = null;
        v.brush.setAttribute('visibility', 'hidden');
        if (moved) this.opts.onZoom(a, Math.max(b, a + MIN_WINDOW));
    }

    // invs: all of the profile's invocations; win: [t0, t1]; profEnd: the profile's end.
    render(invs, win, profEnd, activeId) {
        const [t0, t1] = win;
        const width = Math.max(300, this.box.clientWidth || this.box.parentElement?.clientWidth || 800);
        const inner = width - 2 * PAD;
        const pps = inner / Math.max(MIN_WINDOW, t1 - t0);
        const x = (t) => PAD + (t - t0) * pps;
        const shown = invs.filter((i) => i.end >= t0 && i.start <= t1);
        const p = plan(shown, pps);
        const height = Math.max(1, p.count) * LANE_H + AXIS + 4;
        const svg = el('svg', { width, height, viewBox: `0 0 ${width} ${height}`, class: p.aggregate ? 'aggregated' : '' });
        Object.assign(this.box.dataset, { start: t0, end: t1, shown: shown.length, aggregated: p.aggregate });
        const lanes = el('g', { class: 'inv-lanes' }, svg);
        const common = { x, t0, t1, y0: 0, plan: p };
        if (p.aggregate) {
            drawDensity(lanes, {
                ...common, pps,
                // a click zooms 8× around the bucket
                onBucket: (b0, b1) => {
                    const c = (b0 + b1) / 2, half = Math.max((t1 - t0) / 16, (b1 - b0) / 2);
                    this.opts.onZoom(Math.max(0, c - half), Math.min(profEnd, c + half));
                },
            });
        } else {
            for (const { inv, bar } of drawBars(lanes, shown, {
                ...common, onClick: (i) => this.opts.onInvocation(i), onHover: (i) => this.opts.onInvocationHover(i),
            })) bar.classList.toggle('active', String(inv.id) === String(activeId));
        }
        // the seconds axis
        const axisY = Math.max(1, p.count) * LANE_H + 2;
        const axis = el('g', { class: 'axis' }, svg);
        el('line', { x1: PAD, x2: width - PAD, y1: axisY, y2: axisY }, axis);
        const step = niceStep(70, pps);
        for (let t = Math.ceil(t0 / step) * step; t <= t1 + 1e-9; t += step) {
            el('line', { x1: x(t), x2: x(t), y1: axisY, y2: axisY + 4 }, axis);
            el('text', { x: x(t), y: axisY + 14 }, axis).textContent = `${+t.toFixed(3)}s`;
        }
        // drag to zoom: the drag is kept in seconds on this object and followed on the
        // window, so it survives a redraw of the timeline in the middle of it (a resize)
        const brush = el('rect', { class: 'brush', y: 0, height: axisY, visibility: 'hidden' }, svg);
        this.view = { svg, brush, t0, pps, profEnd };
        svg.addEventListener('mousedown', (e) => {
            if (e.target.closest('.inv, .inv-bucket')) return;
            this.dragFrom = this.timeAt(e);
            e.preventDefault();
        });

        const whole = t0 <= 0 && t1 >= profEnd;
        this.box.replaceChildren(
            h('div', { class: 'inv-timeline-head' },
                h('span', { class: 'inv-window' }, whole ? 'Whole profile' : `${fmtS(t0)} – ${fmtS(t1)}`),
                h('span', { class: 'muted' }, p.aggregate
                    ? 'Too many to show one by one: drag across the timeline or click a stretch to zoom in.'
                    : 'Drag across the timeline to zoom in.'),
                h('span', { class: 'spacer' }),
                h('button', {
                    type: 'button', id: 'inv-zoom-out', disabled: whole,
                    onclick: () => {
                        const c = (t0 + t1) / 2, half = t1 - t0;
                        const a = Math.max(0, c - half), b = Math.min(profEnd, c + half);
                        if (a <= 0 && b >= profEnd) this.opts.onZoom(null, null);
                        else this.opts.onZoom(a, b);
                    },
                }, 'Zoom out'),
                h('button', { type: 'button', id: 'inv-zoom-reset', disabled: whole, onclick: () => this.opts.onZoom(null, null) },
                    'Whole profile')),
            svg);
        return this.box;
    }
}
