// heatmap.js — the subsecond offset heatmap: one column per second, each column cut into
// `rows` cells of 1000/rows ms (time runs bottom to top inside a column, then on to the
// next column), coloured by sample count like FlameScope.
//
// Cells are painted on a canvas (fast for hour-long profiles); an SVG overlay of the same
// size carries what changes: the range selection, the hovered cell, invocation spans
// (outlined on the cells they cover) and the invocation lanes above the heatmap (one bar
// per invocation, clickable; per-function density strips when there are too many to
// read, see invlanes.js).  Selection works like FlameScope: click the first cell,
// move (the pending range follows the mouse), click the last cell; Escape cancels.
//
// Times are seconds from the profile's first whole second, the unit of the heatmap
// columns and of the start/end parameters of the API.

import { scaleLinear } from 'd3';
import { el, plan, drawBars, drawDensity, LANE_H } from './invlanes.js';

const ML = 46, MR = 10, MB = 22;      // margins around the cells (axis labels)
const MAX_SPANS = 300;                // above this, only the active invocation is outlined
const COLORS = ['#ffffff', '#ff5032', '#e50914'];

export class Heatmap {
    // opts: onHover(text), onSelect(start, end), onInvocation(inv), onInvocationHover(inv|null),
    //       onZoom(start, end): a density bucket was clicked
    constructor(container, opts) {
        this.container = container;
        this.opts = opts;
        this.data = null;
        this.invs = [];
        this.pending = null;           // first clicked cell while selecting
        this.selection = null;         // [start, end] in seconds
        this.baseline = null;          // [start, end] of the compare baseline, when on this profile
        this.activeInv = null;
        this.hoverInv = null;
        this.onKey = (e) => {
            if (e.key === 'Escape' && this.pending) {
                this.pending = null;
                this.drawSelection();
            }
        };
        window.addEventListener('keydown', this.onKey);
    }

    destroy() {
        window.removeEventListener('keydown', this.onKey);
        this.container.replaceChildren();
    }

    render(data, invs) {
        this.data = data;
        this.invs = (invs || []).filter((i) => Number.isFinite(i.start) && Number.isFinite(i.end));
        this.layout();
        this.paint();
        this.drawInvocations();
        this.drawSelection();
    }

    layout() {
        const d = this.data;
        this.cols = d.columns.length;
        this.rowCount = d.rows.length;
        this.step = 1000 / this.rowCount;
        const avail = Math.max(200, this.container.clientWidth - ML - MR);
        // the columns share the width, so a short profile fills it like a long one; under
        // 3 px a second the heatmap scrolls.  The rows keep their height.
        this.cw = Math.max(3, Math.floor(avail / Math.max(1, this.cols)));
        this.ch = Math.max(3, Math.min(16, Math.round(360 / this.rowCount)));
        this.plan = plan(this.invs, this.cw);
        this.MT = this.plan.count ? this.plan.count * LANE_H + 6 : 6;
        this.W = this.cols * this.cw;
        this.H = this.rowCount * this.ch;
        this.width = ML + this.W + MR;
        this.height = this.MT + this.H + MB;
    }

    paint() {
        const d = this.data;
        const { cw, ch, MT, W, H, width, height } = this;
        const wrap = document.createElement('div');
        wrap.className = 'heatmap-wrap';
        wrap.style.width = `${width}px`;
        wrap.style.height = `${height}px`;
        const canvas = document.createElement('canvas');
        canvas.className = 'heatmap-canvas';
        canvas.dataset.cols = String(this.cols);
        canvas.dataset.rows = String(this.rowCount);
        canvas.dataset.maxvalue = String(d.maxvalue);
        // geometry, for scripts (tests) that click cells: cell (c, r) starts at
        // (left + c * cellWidth, top + r * cellHeight) CSS pixels inside the canvas
        Object.assign(canvas.dataset, { left: ML, top: MT, cellWidth: cw, cellHeight: ch });
        const dpr = window.devicePixelRatio || 1;
        canvas.width = Math.round(width * dpr);
        canvas.height = Math.round(height * dpr);
        canvas.style.width = `${width}px`;
        canvas.style.height = `${height}px`;
        const g = canvas.getContext('2d');
        g.scale(dpr, dpr);
        const max = Math.max(1, d.maxvalue || 0);
        const color = scaleLinear().domain([0, max / 2, max]).range(COLORS);
        g.fillStyle = '#ffffff';
        g.fillRect(ML, MT, W, H);
        for (let c = 0; c < this.cols; c++) {
            const col = d.values[c] || [];
            for (let r = 0; r < this.rowCount; r++) {
                const v = col[r] || 0;
                if (!v) continue;
                g.fillStyle = color(v);
                g.fillRect(ML + c * cw, MT + r * ch, cw, ch);
            }
        }
        // frame and axes
        g.strokeStyle = '#b8bcc4';
        g.lineWidth = 1;
        g.strokeRect(ML - 0.5, MT - 0.5, W + 1, H + 1);
        g.fillStyle = '#4b5563';
        g.font = '11px system-ui, sans-serif';
        g.textAlign = 'right';
        g.textBaseline = 'middle';
        for (const ms of [0, 250, 500, 750, 1000]) {
            const y = MT + H - (ms / 1000) * H;
            g.fillText(String(ms), ML - 6, Math.min(MT + H - 4, Math.max(MT + 4, y)));
            g.fillRect(ML - 4, Math.round(y) - 0.5, 3, 1);
        }
        g.save();
        g.translate(10, MT + H / 2);
        g.rotate(-Math.PI / 2);
        g.textAlign = 'center';
        g.fillText('ms', 0, 0);
        g.restore();
        const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];
        const every = steps.find((s) => s * cw >= 36) || 7200;
        g.textAlign = 'center';
        g.textBaseline = 'top';
        for (let c = 0; c < this.cols; c += every) {
            const x = ML + c * cw;
            g.fillRect(Math.round(x) - 0.5, MT + H + 1, 1, 4);
            g.fillText(`${d.columns[c]}s`, Math.max(ML + 6, x), MT + H + 6);
        }
        wrap.appendChild(canvas);

        const svg = el('svg', { class: 'heatmap-overlay', width, height, viewBox: `0 0 ${width} ${height}` });
        this.gInv = el('g', { class: 'inv-spans' }, svg);
        this.gSel = el('g', { class: 'selection' }, svg);
        this.hoverRect = el('rect', { class: 'hover-cell', width: cw, height: ch, visibility: 'hidden' }, svg);
        this.gZoom = el('g', { class: 'inv-zoom' }, svg);
        this.gLanes = el('g', { class: 'inv-lanes' }, svg);
        wrap.appendChild(svg);

        canvas.addEventListener('mousemove', (e) => this.mouse(e, false));
        canvas.addEventListener('click', (e) => this.mouse(e, true));
        canvas.addEventListener('mouseleave', () => {
            this.hoverRect.setAttribute('visibility', 'hidden');
            this.opts.onHover('');
        });
        this.container.replaceChildren(wrap);
        this.canvas = canvas;
    }

    cellAt(e) {
        const r = this.canvas.getBoundingClientRect();
        const x = e.clientX - r.left - ML, y = e.clientY - r.top - this.MT;
        if (x < 0 || y < 0 || x >= this.W || y >= this.H) return null;
        return { col: Math.floor(x / this.cw), row: Math.floor(y / this.ch) };
    }

    // Start (or end) time of a cell in seconds.
    cellTime(cell, end) {
        const ms = this.data.rows[cell.row] + (end ? this.step : 0);
        return this.data.columns[cell.col] + ms / 1000;
    }

    static before(a, b) {
        return a.col < b.col || (a.col === b.col && a.row > b.row);
    }

    mouse(e, click) {
        const cell = this.cellAt(e);
        if (!cell) return;
        const v = (this.data.values[cell.col] || [])[cell.row] || 0;
        const ms = this.data.rows[cell.row];
        this.hoverRect.setAttribute('x', ML + cell.col * this.cw);
        this.hoverRect.setAttribute('y', this.MT + cell.row * this.ch);
        this.hoverRect.setAttribute('visibility', 'visible');
        this.opts.onHover(`second ${this.data.columns[cell.col]}, ${+ms.toFixed(1)}–${+(ms + this.step).toFixed(1)} ms: ` +
            `${v} sample${v === 1 ? '' : 's'}` + (this.pending ? ' — click the last cell of the range' : ''));
        if (click) {
            if (!this.pending) {
                this.pending = cell;
                this.drawSelection(cell);
            } else {
                let a = this.pending, b = cell;
                if (Heatmap.before(b, a)) [a, b] = [b, a];
                this.pending = null;
                this.selection = [this.cellTime(a, false), this.cellTime(b, true)];
                this.drawSelection();
                this.opts.onSelect(this.selection[0], this.selection[1]);
            }
        } else if (this.pending) {
            this.drawSelection(cell);
        }
    }

    setSelection(range) {
        this.selection = range;
        this.pending = null;
        if (this.data) this.drawSelection();
    }

    // Outline of the cells between two times (seconds), as an SVG polygon.
    spanPoints(t0, t1) {
        const cols = this.cols;
        t0 = Math.max(0, t0);
        t1 = Math.min(cols, t1);
        if (!(t1 > t0)) return null;
        const c0 = Math.floor(t0);
        const c1 = Number.isInteger(t1) ? t1 - 1 : Math.floor(t1);
        const top = this.MT, bot = this.MT + this.H;
        const yOf = (frac) => this.MT + (1 - frac) * this.H;
        const x = (c) => ML + c * this.cw;
        const ya = yOf(t0 - c0), yb = yOf(t1 - c1);
        if (c0 === c1) return [[x(c0), yb], [x(c0 + 1), yb], [x(c0 + 1), ya], [x(c0), ya]];
        return [[x(c0), top], [x(c1), top], [x(c1), yb], [x(c1 + 1), yb], [x(c1 + 1), bot],
            [x(c0 + 1), bot], [x(c0 + 1), ya], [x(c0), ya]];
    }

    polygon(parent, t0, t1, cls) {
        const pts = this.spanPoints(t0, t1);
        if (!pts) return null;
        return el('polygon', { class: cls, points: pts.map((p) => p.join(',')).join(' ') }, parent);
    }

    setBaseline(range) {
        this.baseline = range;
        if (this.data) this.drawSelection();
    }

    drawSelection(hoverCell) {
        this.gSel.replaceChildren();
        if (this.baseline) this.polygon(this.gSel, this.baseline[0], this.baseline[1], 'baseline');
        if (this.pending) {
            let a = this.pending, b = hoverCell || this.pending;
            if (Heatmap.before(b, a)) [a, b] = [b, a];
            this.polygon(this.gSel, this.cellTime(a, false), this.cellTime(b, true), 'sel pending');
        } else if (this.selection) {
            this.polygon(this.gSel, this.selection[0], this.selection[1], 'sel');
        }
    }

    setActiveInvocation(id) {
        this.activeInv = id;
        this.markInvocations();
    }

    // Builds the spans and lane bars once per render; hover and activation only toggle classes.
    drawInvocations() {
        this.gInv.replaceChildren();
        this.gLanes.replaceChildren();
        this.invEls = [];
        this.gLanes.classList.toggle('aggregated', this.plan.aggregate);
        const common = { x: (t) => ML + t * this.cw, t0: 0, t1: this.cols, y0: 0, plan: this.plan };
        if (this.plan.aggregate) {
            drawDensity(this.gLanes, {
                ...common, pps: this.cw,
                onHover: (text) => this.opts.onHover(text),
                // a bucket of a second or less zooms into its whole second
                onBucket: (t0, t1, step) => (step >= 1 ? this.opts.onZoom(t0, t1)
                    : this.opts.onZoom(Math.floor(t0), Math.min(this.cols, Math.floor(t0) + 1))),
            });
        } else {
            this.invEls = drawBars(this.gLanes, this.invs, {
                ...common,
                onClick: (inv) => this.opts.onInvocation(inv),
                onHover: (inv) => { this.hoverInv = inv; this.markInvocations(); this.opts.onInvocationHover(inv); },
            });
            // with many invocations only the hovered/active one is outlined (see markInvocations)
            if (this.invs.length <= MAX_SPANS) {
                for (const e of this.invEls) e.span = this.polygon(this.gInv, e.inv.start, e.inv.end, 'inv-span');
            }
        }
        this.setZoomWindow(this.zoomWin);
        this.markInvocations();
    }

    // The invocation timeline's window (null: the whole profile), marked behind the lanes.
    setZoomWindow(win) {
        this.zoomWin = win;
        if (!this.gZoom) return;
        this.gZoom.replaceChildren();
        if (!win || !this.plan || !this.plan.count) return;
        const x0 = ML + Math.max(0, win[0]) * this.cw, x1 = ML + Math.min(this.cols, win[1]) * this.cw;
        el('rect', { class: 'zoom-window', x: x0, y: 0, width: Math.max(2, x1 - x0), height: this.MT - 4 }, this.gZoom);
    }

    // The invocation hovered elsewhere (the timeline), outlined on the cells it covers.
    setHoverInvocation(inv) {
        this.hoverInv = inv;
        this.markInvocations();
    }

    markInvocations() {
        if (!this.plan) return;
        const many = this.plan.aggregate || this.invs.length > MAX_SPANS;
        if (many) this.gInv.replaceChildren();
        for (const { inv, span, bar } of this.invEls || []) {
            const on = String(inv.id) === String(this.activeInv) || inv === this.hoverInv;
            bar.classList.toggle('active', on);
            if (span) span.classList.toggle('active', on);
        }
        if (!many) return;
        const active = this.activeInv == null ? null : this.invs.find((i) => String(i.id) === String(this.activeInv));
        for (const inv of new Set([active, this.hoverInv])) {
            if (inv) this.polygon(this.gInv, inv.start, inv.end, 'inv-span active');
        }
    }
}
