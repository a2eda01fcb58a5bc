// list.test.mjs — the web UI's profile list in a real browser, against the real server.
//
// A trace directory of 230 generated traces (two function folders, each trace with its
// own sample count, sample spacing and invocations, uploaded a minute apart), one idle
// trace (a header and invocations, no sample) and one file that is not perf script.
// The server indexes them in the background on the first listing; the page shows each
// trace's samples, duration, invocations and upload time, pages by 100, sorts by every
// column both ways, filters, and opens a profile.  The server is stopped by its pid.
//
// Env: BUILD (default build), FNTRACE_ROOT (repo root).  Run: node --test tests/browser/

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BINARY, SHOTS, openUI } from './harness.mjs';

const N = 230;
const T0 = Date.UTC(2026, 10, 21, 8, 0, 0) / 1000;   // the first upload, in seconds

// Trace k: what the list must show for it.
function traceOf(k) {
    const fn = k % 3 ? 'alpha' : 'beta';
    const samples = 1 + ((k * 37) % 101);
    const stepMs = 1 + (k % 7);
    return {
        k, fn, id: `${fn}/t${String(k).padStart(4, '0')}.perf`, samples, invocations: k % 4,
        duration: ((samples - 1) * stepMs) / 1000, mtime: T0 + 60 * k,
    };
}

function traceText(t) {
    const out = ['# ========', '# captured on : x', '# ========'];
    for (let i = 0; i < t.invocations; i++) out.push(`# fntrace invocation : id=i${i} fn=${t.fn} start=10.0 end=10.5`);
    for (let i = 0; i < t.samples; i++) {
        const ns = 10_000_000_000n + BigInt(i) * BigInt((1 + (t.k % 7)) * 1_000_000);
        const s = `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
        out.push(`app 7/7 [000] ${s}: 1000000 cpu-clock:`, '\t    4010 work+0x10 (/srv/app)', '');
    }
    return out.join('\n') + '\n';
}

const TRACES = Array.from({ length: N }, (_, k) => traceOf(k));
const IDLE = 'alpha/idle.perf';
const JUNK = 'junk.perf';

function makeTraceDir() {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fntrace-list-'));
    const put = (rel, text, mtime) => {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), text);
        fs.utimesSync(path.join(dir, rel), mtime, mtime);
    };
    for (const t of TRACES) put(t.id, traceText(t), t.mtime);
    // uploaded before every other trace: the last rows of the newest-first list
    put(IDLE, '# ========\n# captured on : x\n# ========\n# fntrace invocation : id=a fn=alpha start=1.0 end=1.5\n', T0 - 120);
    put(JUNK, 'not a profile\n', T0 - 60);
    return dir;
}

// The rows the page shows: [{filename, index, samples, duration, invocations, when}].
const rows = (page) => page.locator('#profiles tbody tr').evaluateAll((trs) => trs.map((tr) => ({
    filename: tr.dataset.filename,
    index: tr.dataset.index,
    idle: tr.classList.contains('idle'),
    samples: tr.querySelector('.samples')?.textContent ?? '',
    duration: tr.querySelector('.duration')?.textContent ?? '',
    invocations: tr.querySelector('.invocations')?.textContent ?? '',
    when: tr.querySelector('.when')?.textContent ?? '',
})));
const byId = new Map(TRACES.map((t) => [t.id, t]));
const fmtCount = (n) => Number(n).toLocaleString('en-US');
const utc = (s) => new Date(s * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

// Waits until the page shows `range` for the list state in the URL (sort, order, filter;
// the rows, not only the headings) and no trace on it is still being indexed.
async function settled(page, range) {
    await page.waitForFunction((want) => {
        const t = document.querySelector('#profiles');
        const h = new URLSearchParams(location.hash.slice(1));
        const sort = h.get('sort') || 'time';
        const order = h.get('order') || (sort === 'name' ? 'asc' : 'desc');
        return t && t.dataset.sort === sort && t.dataset.order === order && t.dataset.q === (h.get('q') || '') &&
            document.querySelector('#list-range')?.textContent === want &&
            !document.querySelector('#profiles tr[data-index="pending"], #profiles tr[data-index="none"]');
    }, range);
}

describe('flamescope profile list', { skip: !fs.existsSync(BINARY) && `${BINARY} is not built` }, () => {
    let ui, base, page, pageErrors;

    before(async () => {
        ui = await openUI(makeTraceDir());
        ({ base, page, pageErrors } = ui);
    });

    after(async () => {
        if (ui) await ui.close();
    });

    it('shows the first page newest first, with each trace\'s samples, duration, invocations and upload time', async () => {
        await page.goto(`${base}/`);
        // the first listing hands every trace to the background indexer; the page looks again
        await settled(page, `1–100 of ${fmtCount(N + 2)}`);
        const got = await rows(page);
        assert.equal(got.length, 100);
        const want = [...TRACES].sort((a, b) => b.mtime - a.mtime).slice(0, 100);
        assert.deepEqual(got.map((r) => r.filename), want.map((t) => t.id));
        for (const r of got) {
            const t = byId.get(r.filename);
            assert.equal(r.index, 'ready');
            assert.equal(r.samples, fmtCount(t.samples));
            assert.equal(r.invocations, String(t.invocations));
            assert.equal(r.when, utc(t.mtime));
            // the duration in the page's own units: µs below 1 ms, ms below 10 s
            const want = t.duration < 0.001 ? `${Math.round(t.duration * 1e6)} µs` : `${(t.duration * 1000).toFixed(1)} ms`;
            assert.equal(r.duration, want);
        }
        assert.equal(await page.locator('#list-prev').isDisabled(), true);
        await page.screenshot({ path: path.join(SHOTS, 'list-1-newest.png'), fullPage: true });
    });

    it('pages forward and back; the last page holds the idle trace and the unreadable file', async () => {
        await page.locator('#list-next').click();
        await settled(page, `101–200 of ${fmtCount(N + 2)}`);
        assert.match(page.url(), /offset=100/);
        await page.locator('#list-next').click();
        await settled(page, `201–232 of ${fmtCount(N + 2)}`);
        const last = await rows(page);
        assert.equal(last.length, 32);
        assert.equal(await page.locator('#list-next').isDisabled(), true);
        const idle = last.find((r) => r.filename === IDLE);
        assert.ok(idle && idle.idle, 'the trace without samples is marked idle');
        assert.match(idle.samples, /^0\s*idle$/);
        assert.equal(idle.invocations, '1');
        const junk = last.find((r) => r.filename === JUNK);
        assert.equal(junk.index, 'failed');
        assert.equal(junk.samples, 'not indexed (unreadable)');
        await page.locator('#list-prev').click();
        await settled(page, `101–200 of ${fmtCount(N + 2)}`);
        await page.screenshot({ path: path.join(SHOTS, 'list-2-page.png'), fullPage: true });
    });

    const SORTS = [['samples', (t) => t.samples], ['duration', (t) => t.duration],
        ['invocations', (t) => t.invocations], ['time', (t) => t.mtime]];
    for (const [key, value] of SORTS) {
        it(`sorts by ${key}, both directions, from its column heading`, async () => {
            await page.goto(`${base}/`);
            await settled(page, `1–100 of ${fmtCount(N + 2)}`);
            const head = page.locator(`#profiles th[data-sort="${key}"] button`);
            for (const order of key === 'time' ? ['asc', 'desc'] : ['desc', 'asc']) {
                await head.click();
                await page.waitForFunction(([k, o]) => document.querySelector(`#profiles th[data-sort="${k}"]`)?.dataset.order === o, [key, order]);
                await settled(page, `1–100 of ${fmtCount(N + 2)}`);
                assert.equal(new URLSearchParams(new URL(page.url()).hash.slice(1)).get('order'), order);
                const got = (await rows(page)).filter((r) => byId.has(r.filename)).map((r) => byId.get(r.filename));
                assert.ok(got.length >= 98, `${got.length} generated traces on the page`);
                // the traces on the page are the first ones of that order, in that order
                const sign = order === 'asc' ? 1 : -1;
                const want = [...TRACES].sort((a, b) => sign * (value(a) - value(b) || a.mtime - b.mtime));
                for (let i = 1; i < got.length; i++) {
                    assert.ok(sign * (value(got[i]) - value(got[i - 1])) >= 0, `${key} ${order} at row ${i}`);
                }
                assert.equal(value(got[0]), value(want[0]));
            }
        });
    }

    it('sorts by name, and the filter narrows the list on the server', async () => {
        await page.locator('#profiles th[data-sort="name"] button').click();
        await page.waitForFunction(() => document.querySelector('#profiles th[data-sort="name"]')?.dataset.order === 'asc');
        await settled(page, `1–100 of ${fmtCount(N + 2)}`);
        const names = (await rows(page)).map((r) => r.filename);
        assert.deepEqual(names, [...names].sort());
        assert.equal(names[0], 'alpha/idle.perf');
        await page.locator('#filter').fill('beta/');
        const beta = TRACES.filter((t) => t.fn === 'beta').length;
        await settled(page, `1–${beta} of ${beta}`);
        const got = (await rows(page)).map((r) => r.filename);
        assert.deepEqual(got, TRACES.filter((t) => t.fn === 'beta').map((t) => t.id).sort());
        await page.screenshot({ path: path.join(SHOTS, 'list-3-filter.png'), fullPage: true });
    });

    it('opens a profile from the list, and back keeps the list\'s sort and filter', async () => {
        const first = page.locator('#profiles tbody a.profile').first();
        const id = await first.getAttribute('data-filename');
        await first.click();
        await page.locator('canvas.heatmap-canvas').waitFor();
        assert.equal(new URLSearchParams(new URL(page.url()).hash.slice(1)).get('file'), id);
        await page.goBack();
        await page.locator('#profiles tbody tr').first().waitFor();
        assert.equal(await page.locator('#filter').inputValue(), 'beta/');
        assert.deepEqual(pageErrors, []);
    });
});
