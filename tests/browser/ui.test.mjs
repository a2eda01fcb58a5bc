// ui.test.mjs — the fntrace-flamescope web UI in a real browser, against the real server.
//
// Starts $BUILD/bin/fntrace-flamescope on a free loopback port over a temporary trace
// directory laid out as the collector writes it (function folders; one profile carries
// `# fntrace invocation` header lines), drives Debian's chromium through playwright-core
// the way a person would (open the list, pick a profile, click a range on the heatmap,
// search, zoom, open an invocation, compare, follow a shared link) and checks what the
// page shows.  Screenshots go to $BUILD/test-output/browser/.  The server is stopped by
// its pid at the end (harness.mjs).
//
// Env: BUILD (default build), FNTRACE_ROOT (repo root; the profiles are its tests/data).  Run: node --test tests/browser/  (tests/run does it).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
    BINARY, SHOTS, openUI, makeTraceDir as traceDir, withInvocations as addInvocations, readTestdata as read,
    clickCell, settle, hashParams,
} from './harness.mjs';

// The trace directory: perf-threads.stacks (3 threads: hash_block, compute_pi, fib_phase;
// samples from 716.253 to 719.252 s) with three invocations in its header, beside older
// and other profiles.
const NEWEST = 'fibonacci/20261121T192152Z-0001.perf';
const OLDER = 'fibonacci/20261121T180000Z-0002.perf';
const INVOCATIONS = [
    ['inv-0001', 'fibonacci', 716.4, 717.1, 200],
    ['inv-0002', 'fibonacci', 717.3, 718.6, 200],
    ['inv-0003', 'pi', 718.7, 719.2, 500, 19192], // with the thread that ran it
];

function makeTraceDir() {
    return traceDir({
        [NEWEST]: addInvocations(read('perf-threads.stacks'), INVOCATIONS),
        [OLDER]: read('perf-system.stacks'),
        'nodejs-fib/20261120T101010Z-0003.perf': read('perf-node-jit.stacks'),
        'flamescope-perf.test01': read('flamescope-perf.test01'),
    });
}

describe('flamescope web UI', { skip: !fs.existsSync(BINARY) && `${BINARY} is not built` }, () => {
    let ui, base, browser, page, pageErrors;

    before(async () => {
        ui = await openUI(makeTraceDir());
        ({ base, browser, page, pageErrors } = ui);
    });

    after(async () => {
        if (ui) await ui.close();
    });

    it('lists profiles newest first, with their function, samples and upload time', async () => {
        await page.goto(`${base}/`);
        // indexed in the background on the first listing: the page looks again until done
        await page.waitForFunction(() => document.querySelectorAll('#profiles tr[data-index="ready"]').length === 4);
        const files = await page.locator('#profiles tbody tr').evaluateAll((trs) => trs.map((tr) => [tr.dataset.filename, tr.dataset.fn]));
        assert.deepEqual(files, [[NEWEST, 'fibonacci'], [OLDER, 'fibonacci'],
            ['nodejs-fib/20261120T101010Z-0003.perf', 'nodejs-fib'], ['flamescope-perf.test01', '']]);
        const cell = (f, c) => page.locator(`#profiles tr[data-filename="${f}"] .${c}`).textContent();
        assert.equal(await cell(NEWEST, 'invocations'), '3');
        assert.equal(await cell(NEWEST, 'when'), '2026-11-21 19:21:52 UTC');
        assert.match(await cell(NEWEST, 'samples'), /^[1-9][\d,]*$/);
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, '1-list.png'), fullPage: true });
    });

    it('opens a profile: heatmap with one column per second and the invocation lanes', async () => {
        await page.locator(`a.profile[data-filename="${NEWEST}"]`).click();
        const canvas = page.locator('canvas.heatmap-canvas');
        await canvas.waitFor();
        // samples from 716.25 s to 719.25 s: columns 716..719, 50 rows by default
        assert.equal(await canvas.getAttribute('data-cols'), '4');
        assert.equal(await canvas.getAttribute('data-rows'), '50');
        await page.locator('.heatmap-overlay .inv').first().waitFor();
        const ids = await page.locator('.heatmap-overlay .inv').evaluateAll((rs) => rs.map((r) => r.dataset.id));
        assert.deepEqual(ids.sort(), INVOCATIONS.map(([id]) => id));
        assert.equal(await page.locator('#invocations tbody tr').count(), 3);
        assert.match(await page.locator('#invocations tr[data-id="inv-0003"]').getAttribute('class'), /failed/);
        // the thread column: the tid when the trace names it, a dash otherwise
        const thread = (id) => page.locator(`#invocations tr[data-id="${id}"] td`).last().textContent();
        assert.equal(await thread('inv-0003'), '19192');
        assert.equal(await thread('inv-0001'), '–');
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, '2-heatmap.png'), fullPage: true });
    });

    it('filters the invocation table by function and sorts it by duration', async () => {
        const ids = () => page.locator('#invocations tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
        assert.deepEqual(await ids(), ['inv-0001', 'inv-0002', 'inv-0003']);
        await page.locator('#invocations button.sort', { hasText: 'duration' }).click();
        assert.deepEqual(await ids(), ['inv-0002', 'inv-0001', 'inv-0003']); // 1.3 s, 0.7 s, 0.5 s
        await page.locator('#inv-fn').selectOption('pi');
        assert.deepEqual(await ids(), ['inv-0003']);
        await page.locator('#inv-fn').selectOption('');
        await page.locator('#invocations button.sort', { hasText: 'start' }).click();
        assert.deepEqual(await ids(), ['inv-0001', 'inv-0002', 'inv-0003']);
    });

    it('changes the row count', async () => {
        await page.locator('button.rows[data-rows="25"]').click();
        await page.locator('canvas.heatmap-canvas[data-rows="25"]').waitFor();
        assert.equal(hashParams(page).get('rows'), '25');
        await page.locator('button.rows[data-rows="50"]').click();
        await page.locator('canvas.heatmap-canvas[data-rows="50"]').waitFor();
    });

    it('selects a range with two clicks and shows its flame graph', async () => {
        // first click: second 1, bottom row (1.000 s); second click: second 2, top row (up to 3.000 s)
        await clickCell(page, 1, 49);
        await clickCell(page, 2, 0);
        await page.waitForFunction(() => location.hash.includes('start='));
        const q = hashParams(page);
        assert.equal(q.get('start'), '1');
        assert.equal(q.get('end'), '3');
        await page.locator('#flame g.frame[name="hash_block"]').first().waitFor();
        assert.match(await page.locator('#flame-title').textContent(), /1\.000 s – 3\.000 s/);
        // the flame graph counts exactly the samples of the selected heatmap cells
        const flameTotal = Number(await page.locator('#flame').getAttribute('data-total'));
        const hm = await (await fetch(`${base}/heatmap/?filename=${encodeURIComponent(NEWEST)}&type=perf&rows=50`)).json();
        const cells = hm.values[1].concat(hm.values[2]).reduce((a, b) => a + b, 0);
        assert.ok(cells > 0);
        assert.equal(flameTotal, cells);
        for (const name of ['compute_pi', 'thread_main', 'start_thread']) {
            assert.ok(await page.locator(`#flame g.frame[name="${name}"]`).count() >= 1, `frame ${name}`);
        }
        // FlameScope colours: user frames in the red hue (libtype "user")
        const fill = await page.locator('#flame g.frame[name="compute_pi"] rect').first().getAttribute('fill');
        const [r, g, b] = fill.match(/\d+/g).map(Number);
        assert.ok(r >= 200 && g < 140 && b < 140, `compute_pi is red-ish: ${fill}`);
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, '3-range.png'), fullPage: true });
    });

    it('searches frames and highlights the matches', async () => {
        await page.locator('#search').fill('hash_block');
        await page.locator('#search').press('Enter');
        await page.waitForFunction(() => document.querySelector('#search-status')?.dataset.matches);
        const matches = Number(await page.locator('#search-status').getAttribute('data-matches'));
        assert.ok(matches >= 1);
        const highlighted = await page.locator('#flame g.frame').evaluateAll((gs) => gs
            .filter((g) => g.querySelector('rect').getAttribute('fill') === '#E600E6')
            .map((g) => g.getAttribute('name')));
        assert.ok(highlighted.length >= 1 && highlighted.length <= matches, `${highlighted.length} of ${matches}`);
        assert.ok(highlighted.every((n) => /hash_block/i.test(n)), highlighted.join(','));
        assert.equal(hashParams(page).get('search'), 'hash_block');
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, '4-search.png'), fullPage: true });
        await page.getByRole('button', { name: 'Clear' }).click();
        await page.waitForFunction(() => !document.querySelector('#search-status').dataset.matches);
    });

    it('zooms into a frame and resets the zoom', async () => {
        assert.ok(await page.locator('#flame g.frame[name="compute_pi"]').count() >= 1);
        await page.locator('#flame g.frame[name="thread_main"]').first().click();
        // zoomed into thread_main: its sibling compute_pi is no longer drawn
        await page.waitForFunction(() => !document.querySelector('#flame g.frame[name="compute_pi"]'));
        await page.locator('#reset-zoom').click();
        await page.locator('#flame g.frame[name="compute_pi"]').first().waitFor();
    });

    it('switches between flame and icicle layout', async () => {
        const rootY = () => page.locator('#flame g.frame[name="root"]').evaluate(
            (g) => Number(/translate\([^,]+,\s*([-\d.]+)\)/.exec(g.getAttribute('transform'))[1]));
        assert.ok(await rootY() > 0, 'flame: root at the bottom');
        await page.locator('#layout').click();
        await page.waitForFunction(() => location.hash.includes('layout=icicle'));
        await page.waitForFunction(() => /translate\([^,]+,\s*0\)/.test(
            document.querySelector('#flame g.frame[name="root"]')?.getAttribute('transform') || ''));
        await page.locator('#layout').click();
        await page.waitForFunction(() => !location.hash.includes('layout='));
        await page.waitForFunction(() => !/translate\([^,]+,\s*0\)/.test(
            document.querySelector('#flame g.frame[name="root"]')?.getAttribute('transform') || 'translate(0,0)'));
    });

    it('opens the flame graph of one invocation', async () => {
        await page.locator('.heatmap-overlay .inv[data-id="inv-0002"]').click();
        await page.waitForFunction(() => location.hash.includes('inv=inv-0002'));
        await page.waitForFunction(() => /Invocation inv-0002/.test(document.querySelector('#flame-title').textContent));
        await page.locator('#flame g.frame').first().waitFor();
        assert.ok(Number(await page.locator('#flame').getAttribute('data-total')) > 0);
        assert.match(await page.locator('#invocations tr[data-id="inv-0002"]').getAttribute('class'), /\bon\b/);
        // its bar spans 717.3 s – 718.6 s on the heatmap's scale (1.3 s – 2.6 s from 716 s)
        const g = await page.locator('canvas.heatmap-canvas').evaluate((c) => ({ ...c.dataset }));
        const bar = page.locator('.heatmap-overlay .inv[data-id="inv-0002"]');
        const x = Number(await bar.getAttribute('x')), w = Number(await bar.getAttribute('width'));
        assert.ok(Math.abs(x - (+g.left + 1.3 * g.cellWidth)) < 1, `bar starts at ${x}`);
        assert.ok(Math.abs(x + w - (+g.left + 2.6 * g.cellWidth)) < 1, `bar ends at ${x + w}`);
        // the export links are the server's list of formats, in its order
        const formats = await (await fetch(`${base}/api/v1/exports`)).json();
        const shown = await page.locator('.exports a').evaluateAll((as) => as.map((a) => a.dataset.format));
        assert.deepEqual(shown, formats.map((f) => f.name));
        assert.ok(shown.includes('pprof') && shown.includes('speedscope'));
        // the export links download that invocation's samples
        const folded = await page.locator('a[data-format="folded"]').getAttribute('href');
        const fq = new URLSearchParams(folded.split('?')[1]);
        assert.equal(fq.get('filename'), NEWEST);
        assert.equal(fq.get('invocation'), 'inv-0002');
        const res = await fetch(new URL(folded, `${base}/`));
        assert.equal(res.status, 200);
        const stacks = (await res.text()).trim().split('\n');
        assert.ok(stacks.some((l) => /^worker;.*;hash_block \d+$/.test(l)), 'folded stacks with hash_block');
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, '5-invocation.png'), fullPage: true });
    });

    it('restores the same view from a shared link', async () => {
        const link = page.url();
        const other = await browser.newPage();
        try {
            await other.goto(link);
            await other.waitForFunction(() => /Invocation inv-0002/.test(document.querySelector('#flame-title')?.textContent || ''));
            await other.locator('#flame g.frame').first().waitFor();
            await other.locator('canvas.heatmap-canvas').waitFor();
        } finally {
            await other.close();
        }
    });

    it('compares two ranges (differential flame graph)', async () => {
        await page.goto(`${base}/#file=${encodeURIComponent(NEWEST)}&start=0&end=1`);
        await page.locator('#flame g.frame').first().waitFor();
        await page.locator('#compare').click();
        await page.locator('#compare-banner').waitFor();
        assert.match(await page.locator('#compare-banner').textContent(), /Baseline/);
        await page.locator('canvas.heatmap-canvas').waitFor();
        await clickCell(page, 2, 49);
        await clickCell(page, 3, 0);
        await page.waitForFunction(() => /^Differential/.test(document.querySelector('#flame-title').textContent));
        await page.locator('#flame g.frame[name="hash_block"]').first().waitFor();
        const q = hashParams(page);
        assert.equal(q.get('base'), NEWEST);
        assert.equal(q.get('bs'), '0');
        assert.equal(q.get('be'), '1');
        assert.equal(q.get('start'), '2');
        assert.equal(q.get('end'), '4');
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, '6-differential.png'), fullPage: true });
        await page.getByRole('button', { name: 'Elided' }).click();
        await page.waitForFunction(() => /^Elided/.test(document.querySelector('#flame-title').textContent));
        assert.equal(hashParams(page).get('view'), 'elided');
        await page.locator('#compare-cancel').click();
        await page.waitForFunction(() => !location.hash.includes('base='));
    });

    it('shows the server error for a profile that does not exist', async () => {
        await page.goto(`${base}/#file=${encodeURIComponent('fibonacci/missing.perf')}`);
        const err = page.locator('.error:not([hidden])').first();
        await err.waitFor();
        assert.match(await err.textContent(), /Error: 4\d\d /);
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, '7-error.png'), fullPage: true });
    });

    it('raised no JavaScript error and loaded nothing from elsewhere', () => {
        assert.deepEqual(pageErrors, []);
    });
});
