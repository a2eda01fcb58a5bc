// harness.mjs — what every browser test of the flamescope web UI needs: the real
// fntrace-flamescope on a free loopback port over a trace directory, Debian's chromium
// driven by playwright-core (nothing loaded from anywhere but the server under test),
// and helpers that act on the page as a person would.
//
//   const ui = await openUI(dir);   // ui.base, ui.browser, ui.page, ui.pageErrors
//   ...
//   await ui.close();               // closes the browser, stops the server by its pid
//
// Env: BUILD (default build), FNTRACE_ROOT (repo root; the profiles are its tests/data).

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const ROOT = path.resolve(process.env.FNTRACE_ROOT || path.join(path.dirname(fileURLToPath(import.meta.url)), '../..'));
export const BUILD = path.resolve(ROOT, process.env.BUILD || 'build');
export const TESTDATA = path.join(ROOT, 'tests/data');
export const BINARY = path.join(BUILD, 'bin/fntrace-flamescope');
export const SHOTS = path.join(BUILD, 'test-output/browser');
const CHROMIUM = '/usr/bin/chromium';
export const WAIT = 30000; // generous: the machine may be loaded

export const readTestdata = (name) => fs.readFileSync(path.join(TESTDATA, name), 'utf8');

// A temporary trace directory holding FILES ({relative path: text}).  Each file is
// uploaded (its mtime) when its name says, as the collector names them
// (20261121T192152Z-…); others on Nov 1, 2026.
export function makeTraceDir(files) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fntrace-ui-'));
    for (const [rel, data] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
        fs.writeFileSync(path.join(dir, rel), data);
        const m = /(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z/.exec(rel);
        const t = m ? Date.UTC(+m[1], m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000 : Date.UTC(2026, 10, 1) / 1000;
        fs.utimesSync(path.join(dir, rel), t, t);
    }
    return dir;
}

// Inserts `# fntrace` header lines (invocations: [id, fn, start, end, status, tid?]) after
// the perf header of PERFTEXT.
export function withInvocations(perfText, invocations) {
    const lines = perfText.split('\n');
    const closing = lines.indexOf('# ========', 1); // the header is framed by two such lines
    assert.ok(closing > 0, 'the profile has a perf header');
    const extra = ['# fntrace version : test', ...invocations.map(([id, fn, s, e, st, tid]) =>
        `# fntrace invocation : id=${id} fn=${fn} start=${s.toFixed(6)} end=${e.toFixed(6)} status=${st}` +
        (tid ? ` tid=${tid}` : ''))];
    lines.splice(closing + 1, 0, ...extra);
    return lines.join('\n');
}

function freePort() {
    return new Promise((resolve, reject) => {
        const s = net.createServer();
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => {
            const { port } = s.address();
            s.close(() => resolve(port));
        });
    });
}

async function waitForServer(base, proc) {
    const deadline = Date.now() + WAIT;
    while (Date.now() < deadline) {
        if (proc.exitCode !== null) throw new Error(`fntrace-flamescope exited with ${proc.exitCode}`);
        try {
            const r = await fetch(`${base}/profile/`);
            if (r.ok) return;
        } catch { /* not listening yet */ }
        await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`fntrace-flamescope did not answer on ${base} within ${WAIT} ms`);
}

function stop(proc) {
    return new Promise((resolve) => {
        if (!proc || proc.exitCode !== null || proc.signalCode !== null) return resolve();
        const kill = setTimeout(() => process.kill(proc.pid, 'SIGKILL'), 10000);
        proc.once('exit', () => { clearTimeout(kill); resolve(); });
        process.kill(proc.pid, 'SIGTERM');
    });
}

// Starts the server over DIR and a browser on it; close() undoes both and removes DIR.
export async function openUI(dir, { viewport = { width: 1280, height: 1000 } } = {}) {
    fs.mkdirSync(SHOTS, { recursive: true });
    const logs = [];
    const pageErrors = [];
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const server = spawn(BINARY, ['--listen', '127.0.0.1', '--port', String(port), '--dir', dir],
        { stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout.on('data', (d) => logs.push(String(d)));
    server.stderr.on('data', (d) => logs.push(String(d)));
    let browser = null, profileDir = null;
    const close = async () => {
        if (browser) await browser.close();
        await stop(server);
        fs.rmSync(dir, { recursive: true, force: true });
        if (profileDir) fs.rmSync(profileDir, { recursive: true, force: true });
        if (server.exitCode) console.log(logs.join(''));
    };
    try {
        await waitForServer(base, server);
        profileDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fntrace-chromium-'));
        browser = await chromium.launchPersistentContext(profileDir, {
            executablePath: CHROMIUM,
            headless: true,
            args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
                '--disable-background-networking', '--disable-component-update', '--disable-sync'],
            viewport,
        });
        browser.setDefaultTimeout(WAIT);
        const page = browser.pages()[0] || await browser.newPage();
        page.on('pageerror', (e) => pageErrors.push(e.message));
        // nothing may be loaded from anywhere but the server under test
        await browser.route('**/*', (route) => {
            const u = route.request().url();
            if (u.startsWith(base) || u.startsWith('data:')) return route.continue();
            pageErrors.push(`request outside the server: ${u}`);
            return route.abort();
        });
        return { base, browser, page, pageErrors, logs, close };
    } catch (e) {
        await close();
        throw e;
    }
}

// Clicks heatmap cell (col, row) — row 0 is the top row — using the geometry the canvas
// publishes in its data attributes.
export async function clickCell(page, col, row) {
    const canvas = page.locator('canvas.heatmap-canvas');
    const g = await canvas.evaluate((c) => ({ ...c.dataset }));
    await canvas.click({
        position: { x: +g.left + (col + 0.5) * +g.cellWidth, y: +g.top + (row + 0.5) * +g.cellHeight },
    });
}

// Lets d3's transitions finish, so that a screenshot shows the final picture.
export const settle = (page) => page.waitForTimeout(1000);

export const hashParams = (page) => new URLSearchParams(new URL(page.url()).hash.slice(1));
