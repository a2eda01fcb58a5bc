// flame.js — the flame graph panel: d3-flame-graph over a converted FlameScope tree.
//
// Colours are d3-flame-graph's libtype scheme, which is FlameScope's: the node's `l`
// picks the hue (kernel orange, jit green, inlined aqua, user red, C++ `::` names
// yellow) and the name picks the shade.  Differential trees use d3-flame-graph's
// differential mapper (red: more samples than the baseline, blue: fewer), fed with the
// total deltas that api.toFlameTree computed.  Click a frame to zoom; search takes a
// regular expression (an invalid one is matched literally), case-insensitive.

import { select, format } from 'd3';
import flamegraph, { colorMapper } from 'd3-flame-graph';

const pct = format('.2f');

function matcher(term) {
    try {
        return new RegExp(term, 'i');
    } catch {
        return new RegExp(term.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'i');
    }
}

export class FlameView {
    // opts: onSearch({frames, samples, total} | null), onDetails(text)
    constructor(container, opts) {
        this.container = container;
        this.opts = opts;
        this.chart = null;
        this.tree = null;
        this.re = null;
    }

    render(tree, { differential = false, inverted = false, search = '' } = {}) {
        this.tree = tree;
        this.differential = differential;
        this.inverted = inverted;
        this.draw();
        if (search) this.search(search);
    }

    draw() {
        const tree = this.tree;
        this.container.replaceChildren();
        this.chart = null;
        if (!tree) return;
        const total = tree.value;
        const chart = flamegraph()
            .width(Math.max(300, this.container.clientWidth))
            .cellHeight(18)
            .transitionDuration(250)
            .minFrameSize(1)
            .sort(true)
            .title('')
            .inverted(this.inverted)
            .setLabelHandler((d) => {
                const n = d.data;
                let s = `${n.name}${n.l ? ` [${n.l}]` : ''}: ${d.value} sample${d.value === 1 ? '' : 's'}` +
                    ` (${pct(total ? (100 * d.value) / total : 0)}%)`;
                if (this.differential && n.delta !== undefined) s += `, delta ${n.delta > 0 ? '+' : ''}${n.delta}`;
                return s;
            })
            .setDetailsHandler((text) => this.opts.onDetails(text || ''))
            .setSearchMatch((d) => this.re !== null && this.re.test(d.data.name))
            .setSearchHandler((results, samples, all) => {
                this.opts.onSearch(this.re ? { frames: results.length, samples, total: all } : null);
            });
        if (this.differential) chart.setColorMapper(colorMapper.differentialColorMapper);
        select(this.container).datum(tree).call(chart);
        this.chart = chart;
        if (this.re) chart.search('x');
    }

    search(term) {
        this.re = term ? matcher(term) : null;
        if (!this.chart) return;
        if (this.re) this.chart.search(term);
        else this.clearSearch();
    }

    clearSearch() {
        this.re = null;
        if (this.chart) this.chart.clear();
        this.opts.onSearch(null);
    }

    resetZoom() {
        if (this.chart) this.chart.resetZoom();
    }

    setInverted(inverted) {
        this.inverted = inverted;
        if (this.chart) {
            this.chart.inverted(inverted);
            this.draw();
        }
    }

    // Re-lays the graph out at the container's current width (window resize).
    resize() {
        if (this.tree) this.draw();
    }
}
