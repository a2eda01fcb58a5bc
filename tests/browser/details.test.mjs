// details.test.mjs — the details of the flamescope web UI that a new user tripped over,
// in a real browser against the real server (harness.mjs):
//   - a link with end=0 (or no start) is titled with the range the server reads;
//   - a short profile fills the heatmap's width;
//   - ~600 invocations are aggregated into per-function lanes, and zooming shows them
//     one by one;
//   - the invocation table pages;
//   - SVG titles carry units (the export's frames, the invocation bars).
// The profiles are made here: a busy 10 s profile with 600 invocations of three
// functions, and a short 3 s profile with three.  Every expected figure is computed from
// what the test generated, not read back from the UI.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { BINARY, SHOTS, openUI, makeTraceDir, withInvocations, settle, hashParams } from './harness.mjs';

const PERIOD_NS = 5000000; // 200 Hz cpu-clock

// perf script text: one sample every 5 ms from t0 for `secs` seconds, three stacks in turn.
function perfText(t0, secs) {
    const head = ['# ========', '# captured on    : Sat Nov 21 19:21:52 2026', '# hostname : test',
        '# cmdline : /usr/bin/perf record -F 200 -g ./worker',
        `# event : name = cpu-clock, , type = 1, { sample_period, sample_freq } = 200`, '# ========', '#'];
    const leaves = ['parse_request', 'resize_image', 'run_cron'];
    const out = [];
    const n = Math.round(secs * 200);
    for (let i = 0; i < n; i++) {
        const t = t0 + 0.0025 + i * 0.005;
        out.push(`worker 100/101 [000] ${t.toFixed(6)}: ${PERIOD_NS} cpu-clock: `,
            `\t            1217 ${leaves[i % 3]}+0x27 (/srv/fn/worker)`,
            '\t            135a handle+0x6a (/srv/fn/worker)',
            '\t           891f5 start_thread+0x305 (/usr/lib/x86_64-linux-gnu/libc.so.6)', '');
    }
    return { text: `${head.join('\n')}\n${out.join('\n')}\n`, samples: n };
}

// 600 invocations over 10 s: api 420, resize 150, cron 30; durations 2–30 ms; every
// 37th fails.  A small LCG keeps them the same on every run.
function busyInvocations(t0) {
    let seed = 12345;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const fns = [['api', 420], ['resize', 150], ['cron', 30]];
    const invs = [];
    let k = 0;
    for (const [fn, count] of fns) {
        for (let i = 0; i < count; i++) {
            const start = t0 + 0.01 + rnd() * 9.9;
            const dur = 0.002 + rnd() * 0.028;
            invs.push([`${fn}-${String(i).padStart(3, '0')}`, fn, start, start + dur, ++k % 37 ? 200 : 500]);
        }
    }
    return invs;
}

const BUSY = 'busy/20261201T100000Z-0001.perf';
const SHORT = 'short/20261201T110000Z-0001.perf';
const BUSY_T0 = 2000, SHORT_T0 = 3000;
const busy = perfText(BUSY_T0, 10);
const short = perfText(SHORT_T0, 3);
const BUSY_INVS = busyInvocations(BUSY_T0);
const SHORT_INVS = [['s-1', 'hello', 3000.4, 3001.1, 200], ['s-2', 'hello', 3001.3, 3002.6, 200],
    ['s-3', 'hello', 3002.7, 3002.95, 500]];
// on the heatmap's scale: seconds from the profile's first whole second
const rel = (invs, t0) => invs.map(([id, fn, s, e, st]) => ({ id, fn, start: s - t0, end: e - t0, status: st }));
const busyRel = rel(BUSY_INVS, BUSY_T0);

// a fresh page load each time: the view-local settings (function filter, sort) start anew,
// the timeline window and the table page are the link's (tw, ipage)
async function open(page, base, hash) {
    await page.goto('about:blank');
    await page.goto(`${base}/#${hash}`);
}
const fileHash = (f, more = '') => `file=${encodeURIComponent(f)}${more}`;
const tableIds = (page) => page.locator('#invocations tbody tr').evaluateAll((trs) => trs.map((tr) => tr.dataset.id));
const countText = (page) => page.locator('#inv-count').textContent();

describe('flamescope web UI details', { skip: !fs.existsSync(BINARY) && `${BINARY} is not built` }, () => {
    let ui, base, page;

    before(async () => {
        ui = await openUI(makeTraceDir({
            [BUSY]: withInvocations(busy.text, BUSY_INVS),
            [SHORT]: withInvocations(short.text, SHORT_INVS),
        }));
        ({ base, page } = ui);
    });

    after(async () => {
        if (ui) await ui.close();
    });

    it('titles a range link with the range the server reads (end=0 is the end of the profile)', async () => {
        const title = () => page.locator('#flame-title').textContent();
        const titled = (re) => page.waitForFunction((src) => new RegExp(src).test(
            document.querySelector('#flame-title')?.textContent || ''), re.source);
        // 3 s from 3000.0025 to 3002.9975: columns 0..2, the whole profile is 0 – 3 s
        for (const hash of ['&start=0&end=0', '&end=0', '&start=0']) {
            await open(page, base, fileHash(SHORT, hash));
            await titled(/samples$/);
            assert.match(await title(), /^Flame graph: 0\.000 s – 3\.000 s \(3\.000 s\) — 600 samples$/, hash);
            assert.equal(Number(await page.locator('#flame').getAttribute('data-total')), short.samples);
            // the heatmap outlines the whole range, and the exports take it
            const xs = (await page.locator('.heatmap-overlay polygon.sel').getAttribute('points'))
                .split(' ').map((p) => Number(p.split(',')[0]));
            const cells = await page.locator('canvas.heatmap-canvas').evaluate((c) => ({ ...c.dataset }));
            assert.deepEqual([Math.min(...xs), Math.max(...xs)], [+cells.left, +cells.left + 3 * cells.cellWidth], hash);
            const svg = new URLSearchParams((await page.locator('a[data-format="svg"]').getAttribute('href')).split('?')[1]);
            assert.deepEqual([svg.get('start'), svg.get('end')], ['0', '3']);
        }
        await open(page, base, fileHash(SHORT, '&start=1&end=0'));
        await titled(/samples$/);
        assert.match(await title(), /^Flame graph: 1\.000 s – 3\.000 s \(2\.000 s\) — 400 samples$/);
        await open(page, base, fileHash(SHORT, '&start=1.5&end=2.25'));
        await titled(/samples$/);
        assert.match(await title(), /^Flame graph: 1\.500 s – 2\.250 s \(750\.0 ms\) — 150 samples$/);
    });

    it('a short profile fills the heatmap width, rows keep their height', async () => {
        await open(page, base, fileHash(SHORT));
        const canvas = page.locator('canvas.heatmap-canvas');
        await canvas.waitFor();
        const g = await canvas.evaluate((c) => ({ ...c.dataset, width: c.getBoundingClientRect().width }));
        assert.equal(g.cols, '3');
        assert.equal(g.rows, '50');
        const box = await page.locator('#heatmap').evaluate((e) => e.clientWidth);
        const cellsWidth = 3 * g.cellWidth;
        assert.ok(cellsWidth >= 0.9 * (box - 56), `the cells take ${cellsWidth} of ${box} px`);
        assert.ok(g.width <= box, `no horizontal scroll: ${g.width} px in ${box} px`);
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, 'details-1-short.png'), fullPage: true });
        // the busy profile's rows are as high: only the columns are scaled
        await open(page, base, fileHash(BUSY));
        await page.locator('canvas.heatmap-canvas[data-cols="10"]').waitFor();
        const b = await page.locator('canvas.heatmap-canvas').evaluate((c) => ({ ...c.dataset }));
        assert.equal(b.cellHeight, g.cellHeight);
        assert.ok(10 * b.cellWidth >= 0.9 * (box - 56));
    });

    it('aggregates 600 invocations into lanes per function, and zooms in to show them one by one', async () => {
        await open(page, base, fileHash(BUSY));
        await page.locator('.heatmap-overlay .inv-lane').first().waitFor();
        // no individual bars above the heatmap: one lane per function, busiest first, with its count
        assert.equal(await page.locator('.heatmap-overlay .inv').count(), 0);
        const lanes = await page.locator('.heatmap-overlay .inv-lane').evaluateAll((ls) => ls.map((l) => ({
            fn: l.dataset.fn, count: Number(l.dataset.count), label: l.querySelector('text').textContent,
            buckets: [...l.querySelectorAll('rect.inv-bucket')].reduce((a, r) => a + Number(r.dataset.count), 0),
            y: [...new Set([...l.querySelectorAll('rect')].map((r) => r.getAttribute('y')))],
        })));
        assert.deepEqual(lanes.map((l) => [l.fn, l.count, l.label, l.buckets]),
            [['api', 420, 'api · 420', 420], ['resize', 150, 'resize · 150', 150], ['cron', 30, 'cron · 30', 30]]);
        assert.ok(lanes.every((l) => l.y.length === 1), 'each lane is one strip');
        assert.equal(new Set(lanes.map((l) => l.y[0])).size, 3);
        // the lanes take three rows above the cells, not a blob of eight
        const top = Number(await page.locator('canvas.heatmap-canvas').getAttribute('data-top'));
        assert.ok(top <= 3 * 14 + 6, `cells start ${top} px down`);
        const bucketTitle = await page.locator('.heatmap-overlay .inv-lane[data-fn="api"] rect.inv-bucket title').first().textContent();
        assert.match(bucketTitle, /^api: \d+ invocations? started \d+\.\d{3} s – \d+\.\d{3} s/);
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, 'details-2-lanes.png'), fullPage: true });

        // the timeline in the invocations card starts aggregated too
        const tl = page.locator('#inv-timeline');
        assert.equal(await tl.getAttribute('data-aggregated'), 'true');
        // click the api lane's bucket in second 4: the timeline zooms to that second
        const bucket = page.locator('.heatmap-overlay .inv-lane[data-fn="api"] rect.inv-bucket[data-start^="4"]').first();
        // pointing at it says what it holds, in the details line under the heatmap
        await bucket.hover();
        const said = await page.locator('#hm-details').textContent();
        assert.match(said, /^api: \d+ invocations? started 4\.\d{3} s – 4\.\d{3} s/);
        assert.equal(said, await bucket.locator('title').textContent());
        await bucket.click();
        await page.waitForFunction(() => document.querySelector('#inv-timeline')?.dataset.start === '4');
        assert.equal(await tl.getAttribute('data-end'), '5');
        // the heatmap marks that second above its column
        const hm = await page.locator('canvas.heatmap-canvas').evaluate((c) => ({ ...c.dataset }));
        const zw = page.locator('.heatmap-overlay rect.zoom-window');
        assert.equal(Number(await zw.getAttribute('x')), +hm.left + 4 * hm.cellWidth);
        assert.equal(Number(await zw.getAttribute('width')), +hm.cellWidth);
        const inWindow = busyRel.filter((i) => i.end >= 4 && i.start <= 5);
        assert.ok(inWindow.length > 20 && inWindow.length <= 150, `${inWindow.length} in the window`);
        assert.equal(await tl.getAttribute('data-aggregated'), 'false');
        const bars = await page.locator('#inv-timeline .inv').evaluateAll((rs) => rs.map((r) => ({
            id: r.dataset.id, x: +r.getAttribute('x'), w: +r.getAttribute('width'), y: r.getAttribute('y'),
        })));
        assert.deepEqual(bars.map((b) => b.id).sort(), inWindow.map((i) => i.id).sort());
        assert.ok(bars.every((b) => b.w >= 3), 'every bar is at least 3 px wide');
        for (const a of bars) {
            for (const b of bars) {
                if (a !== b && a.y === b.y) assert.ok(a.x + a.w <= b.x || b.x + b.w <= a.x, `${a.id} and ${b.id} overlap`);
            }
        }
        // the table lists that window's invocations
        assert.equal(await countText(page), `1–${inWindow.length} of ${inWindow.length} (600 in the profile)`);
        assert.deepEqual((await tableIds(page)).sort(), inWindow.map((i) => i.id).sort());
        await settle(page);
        await page.screenshot({ path: path.join(SHOTS, 'details-3-zoomed.png'), fullPage: true });
        // one bar opens its invocation
        const pick = inWindow[0];
        await page.locator(`#inv-timeline .inv[data-id="${pick.id}"]`).click();
        await page.waitForFunction((id) => location.hash.includes(`inv=${id}`), pick.id);
        await page.waitForFunction((id) => (document.querySelector('#flame-title')?.textContent || '').startsWith(`Invocation ${id} `), pick.id);
        // drag across the first half of the window (along the axis, below the bars): it
        // narrows to about 4.0 – 4.5 s
        await settle(page); // the flame graph is drawn: the page keeps its layout
        const box = await page.locator('#inv-timeline svg').boundingBox();
        const y = box.y + box.height - 4;
        await page.mouse.move(box.x + 8, y);
        await page.mouse.down();
        await page.mouse.move(box.x + 8 + (box.width - 16) / 4, y);
        await page.mouse.move(box.x + 8 + (box.width - 16) / 2, y);
        await page.mouse.up();
        await page.waitForFunction(() => Number(document.querySelector('#inv-timeline').dataset.end) < 4.6);
        const [s, e] = [Number(await tl.getAttribute('data-start')), Number(await tl.getAttribute('data-end'))];
        assert.ok(Math.abs(s - 4) < 0.02 && Math.abs(e - 4.5) < 0.02, `window ${s} – ${e}`);
        // back to the whole profile: aggregated again, every invocation in the table
        await page.locator('#inv-zoom-reset').click();
        await page.waitForFunction(() => document.querySelector('#inv-timeline').dataset.aggregated === 'true');
        assert.equal(await countText(page), '1–100 of 600');
        assert.equal(await zw.count(), 0);
    });

    it('pages the invocation table, 100 rows a page, with a count', async () => {
        await open(page, base, fileHash(BUSY));
        await page.locator('#invocations tbody tr').first().waitFor();
        const byStart = [...busyRel].sort((a, b) => a.start - b.start).map((i) => i.id);
        assert.equal(await page.locator('#invocations tbody tr').count(), 100);
        assert.equal(await countText(page), '1–100 of 600');
        assert.deepEqual(await tableIds(page), byStart.slice(0, 100));
        assert.ok(await page.locator('#inv-prev').isDisabled());
        await page.locator('#inv-next').click();
        assert.equal(await countText(page), '101–200 of 600');
        assert.deepEqual(await tableIds(page), byStart.slice(100, 200));
        for (let i = 0; i < 4; i++) await page.locator('#inv-next').click();
        assert.equal(await countText(page), '501–600 of 600');
        assert.deepEqual(await tableIds(page), byStart.slice(500));
        assert.ok(await page.locator('#inv-next').isDisabled());
        await page.locator('#inv-prev').click();
        assert.equal(await countText(page), '401–500 of 600');
        // sorting starts again at the first page: the 100 longest
        await page.locator('#invocations button.sort', { hasText: 'duration' }).click();
        assert.equal(await countText(page), '1–100 of 600');
        const longest = [...busyRel].sort((a, b) => (b.end - b.start) - (a.end - a.start)).slice(0, 100).map((i) => i.id);
        assert.deepEqual((await tableIds(page)).sort(), longest.sort());
        // the function filter pages too: 150 resize invocations are two pages
        await page.locator('#inv-fn').selectOption('resize');
        assert.equal(await countText(page), '1–100 of 150 (600 in the profile)');
        await page.locator('#inv-next').click();
        assert.equal(await countText(page), '101–150 of 150 (600 in the profile)');
        assert.equal(await page.locator('#invocations tbody tr').count(), 50);
        // a link to an invocation opens the page that lists it
        const late = byStart[345];
        await open(page, base, fileHash(BUSY, `&inv=${late}`));
        await page.locator(`#invocations tr[data-id="${late}"]`).waitFor();
        assert.equal(await countText(page), '301–400 of 600');
        assert.match(await page.locator(`#invocations tr[data-id="${late}"]`).getAttribute('class'), /\bon\b/);
    });

    it('keeps the timeline window and the table page in the URL: a reload or a shared link shows the same rows', async () => {
        const tl = page.locator('#inv-timeline');
        const inWindow = (a, b) => [...busyRel].filter((i) => i.end >= a && i.start <= b).sort((x, y) => x.start - y.start).map((i) => i.id);
        // paging writes the page into the link, replacing the history entry
        await open(page, base, fileHash(BUSY));
        await page.locator('#invocations tbody tr').first().waitFor();
        const depth = await page.evaluate(() => history.length);
        await page.locator('#inv-next').click();
        await page.locator('#inv-next').click();
        assert.equal(await countText(page), '201–300 of 600');
        await page.waitForFunction(() => location.hash.includes('ipage=3'));
        assert.equal(await page.evaluate(() => history.length), depth);
        const ids = await tableIds(page);
        await page.reload();
        await page.locator('#invocations tbody tr').first().waitFor();
        assert.equal(await countText(page), '201–300 of 600');
        assert.deepEqual(await tableIds(page), ids);
        // a window and a page in a link: the timeline shows that window, the table that page of it
        const want = inWindow(2, 8);
        assert.ok(want.length > 200, `${want.length} invocations in 2 – 8 s`);
        await open(page, base, fileHash(BUSY, '&tw=2,8&ipage=2'));
        await page.waitForFunction(() => document.querySelector('#inv-timeline')?.dataset.end === '8');
        assert.equal(await tl.getAttribute('data-start'), '2');
        assert.equal(await countText(page), `101–200 of ${want.length} (600 in the profile)`);
        assert.deepEqual(await tableIds(page), want.slice(100, 200));
        assert.equal(await page.locator('.heatmap-overlay rect.zoom-window').count(), 1);
        await page.reload();
        await page.waitForFunction(() => document.querySelector('#inv-timeline')?.dataset.end === '8');
        assert.deepEqual(await tableIds(page), want.slice(100, 200));
        // zooming elsewhere: a new window from its first page; back to the whole profile: neither in the link
        await page.locator('.heatmap-overlay .inv-lane[data-fn="api"] rect.inv-bucket[data-start^="4"]').first().click();
        await page.waitForFunction(() => document.querySelector('#inv-timeline')?.dataset.start === '4');
        assert.equal(hashParams(page).get('tw'), '4,5');
        assert.equal(hashParams(page).get('ipage'), null);
        await page.locator('#inv-zoom-reset').click();
        await page.waitForFunction(() => !location.hash.includes('tw='));
        assert.equal(await countText(page), '1–100 of 600');
        // a window or page that cannot be is ignored: the whole profile, its first page
        await open(page, base, fileHash(BUSY, '&tw=8,2&ipage=x'));
        await page.locator('#invocations tbody tr').first().waitFor();
        assert.equal(await countText(page), '1–100 of 600');
    });

    it('SVG titles give durations with units and times in seconds from the profile start', async () => {
        // the standalone SVG export of the whole short profile
        await open(page, base, fileHash(SHORT, '&start=0&end=3'));
        await page.locator('#flame g.frame').first().waitFor();
        const href = await page.locator('a[data-format="svg"]').getAttribute('href');
        const svg = await (await fetch(new URL(href, `${base}/`))).text();
        const { titles, heading } = await page.evaluate((text) => {
            const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
            return {
                titles: [...doc.querySelectorAll('g.f > title')].map((t) => t.textContent),
                heading: doc.querySelector('#title').textContent,
            };
        }, svg);
        assert.match(heading, /, 0\.000 s – 3\.000 s \(3\.000 s\)$/);
        assert.ok(titles.length >= 5);
        for (const t of titles) {
            assert.match(t, /^.+ \(\d+(\.\d+)? (ns|µs|ms|s), \d+\.\d\d%\)$/, t);
            assert.doesNotMatch(t, /\d{7}/, t);
        }
        // 600 samples of 5 ms; each leaf a third of them
        assert.ok(titles.includes('all (3.000 s, 100.00%)'), titles.slice(0, 3).join(' | '));
        assert.ok(titles.includes('parse_request (1.000 s, 33.33%)'), titles.join(' | '));
        // the invocation bars above the heatmap: when, how long, how it ended
        await page.locator('.heatmap-overlay .inv[data-id="s-2"]').waitFor();
        assert.equal(await page.locator('.heatmap-overlay .inv[data-id="s-2"] title').textContent(),
            'invocation s-2 (hello): 1.300 s – 2.600 s, 1.300 s, status 200');
        assert.equal(await page.locator('.heatmap-overlay .inv[data-id="s-3"] title').textContent(),
            'invocation s-3 (hello): 2.700 s – 2.950 s, 250.0 ms, status 500');
        // and the invocation's flame graph title
        await page.locator('.heatmap-overlay .inv[data-id="s-3"]').click();
        await page.waitForFunction(() => /^Invocation s-3 /.test(document.querySelector('#flame-title').textContent));
        assert.match(await page.locator('#flame-title').textContent(),
            /^Invocation s-3 \(hello\): 2\.700 s – 2\.950 s \(250\.0 ms\), status 500/);
        assert.equal(hashParams(page).get('inv'), 's-3');
    });

    it('raised no JavaScript error and loaded nothing from elsewhere', () => {
        assert.deepEqual(ui.pageErrors, []);
    });
});
