// flametree.test.mjs — the UI's conversion of FlameScope trees ({n, l, v = self count,
// c, d = self delta}) into d3-flame-graph trees ({name, value = total, children,
// delta = total delta}), on the flame graphs Netflix FlameScope itself produced for the
// shared test profiles, plus the URL state helpers.  No browser needed.

import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { toFlameTree, groupOf, url } from '../../flamescope/web/src/api.js';

const ROOT = path.resolve(process.env.FNTRACE_ROOT || path.join(path.dirname(fileURLToPath(import.meta.url)), '../..'));
const GOLDEN = path.join(ROOT, 'tests/data/golden');
const golden = (name) => JSON.parse(fs.readFileSync(path.join(GOLDEN, name), 'utf8'));

// Walks both trees side by side; returns the number of samples under src.  In a
// differential tree, a node without "d" (absent from the baseline) is new as a whole.
function check(src, dst, differential) {
    assert.equal(dst.name, src.n);
    assert.equal(dst.l, src.l);
    assert.equal(dst.children.length, src.c.length);
    let total = src.v, delta = src.d;
    src.c.forEach((c, i) => {
        total += check(c, dst.children[i], differential);
        if (delta !== undefined) delta += dst.children[i].delta;
    });
    assert.equal(dst.value, total, `value of ${src.n}`);
    if (differential) assert.equal(dst.delta, delta ?? total, `delta of ${src.n}`);
    else assert.equal(dst.delta, undefined);
    return total;
}

describe('FlameScope tree conversion', () => {
    for (const name of ['perf-threads.stacks.flamegraph.json', 'perf-system.stacks.flamegraph.json',
        'perf-node-jit.stacks.flamegraph.json', 'flamescope-perf.test01.flamegraph.json',
        'perf-threads.vs.perf-system.differential.json']) {
        it(`keeps names and frame types and sums totals: ${name}`, () => {
            const src = golden(name);
            const tree = toFlameTree(src);
            const total = check(src, tree, 'd' in src);
            assert.ok(total > 0);
        });
    }

    it('counts every sample of the profile at the root (perf-threads: as many as the heatmap)', () => {
        const hm = golden('perf-threads.stacks.heatmap.json');
        const cells = hm.values.flat().reduce((a, b) => a + b, 0);
        assert.equal(toFlameTree(golden('perf-threads.stacks.flamegraph.json')).value, cells);
    });

    it('converts a 100000-frame deep stack without recursion', () => {
        const root = { n: 'root', l: '', v: 0, c: [] };
        let node = root;
        for (let i = 0; i < 100000; i++) {
            const child = { n: `f${i}`, l: 'user', v: 0, c: [] };
            node.c.push(child);
            node = child;
        }
        node.v = 7;
        const tree = toFlameTree(root);
        assert.equal(tree.value, 7);
        assert.equal(tree.children[0].children[0].value, 7);
    });

    it('tolerates malformed nodes', () => {
        const tree = toFlameTree({ n: 5, v: 'x', c: [{ n: 'a', v: 2 }, { v: 1, c: null }] });
        assert.equal(tree.name, '5');
        assert.equal(tree.value, 3);
        assert.deepEqual(tree.children.map((c) => c.name), ['a', '']);
    });
});

describe('helpers', () => {
    it('groups a profile by the first path segment', () => {
        assert.equal(groupOf('fibonacci/20261121T192152Z-1.perf'), 'fibonacci');
        assert.equal(groupOf('a/b/c.perf'), 'a');
        assert.equal(groupOf('top.perf'), '');
        assert.equal(groupOf('/odd'), '');
    });

    it('builds query strings without empty parameters and with escaping', () => {
        assert.equal(url('flamegraph/', { filename: 'fn/a b&c.perf', type: 'perf', start: '', end: undefined }),
            'flamegraph/?filename=fn%2Fa+b%26c.perf&type=perf');
        assert.equal(url('profile/'), 'profile/');
    });
});
