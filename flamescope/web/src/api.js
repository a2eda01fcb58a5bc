// api.js — the HTTP calls the UI makes, and the data shapes it converts.
//
// Every request goes to the fntrace-flamescope server that served this page, through
// relative URLs (so the UI also works behind a path prefix).  The server speaks the
// Netflix FlameScope 0.3 API (/profile/, /heatmap/, /flamegraph/, /differential/,
// /elided/) plus fntrace's own /api/v1/… (invocations, per-invocation flame graph,
// exports).  Errors come back as JSON {"error": "..."} with a 4xx/5xx status; getJSON
// turns them into a thrown ApiError whose message is the server's text.

export class ApiError extends Error {
    constructor(message, status, url) {
        super(message);
        this.status = status;
        this.url = url;
    }
}

function query(params) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
        if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    }
    return q.toString();
}

export function url(path, params) {
    const q = query(params || {});
    return q ? `${path}?${q}` : path;
}

export async function getJSON(path, params) {
    return (await fetchJSON(path, params)).body;
}

// getJSON's answer with the response's headers: {body, headers}.
async function fetchJSON(path, params) {
    const u = url(path, params);
    let res;
    try {
        res = await fetch(u, { headers: { Accept: 'application/json' } });
    } catch (e) {
        throw new ApiError(`cannot reach the server (${e.message})`, 0, u);
    }
    const text = await res.text();
    let body = null;
    try {
        body = text ? JSON.parse(text) : null;
    } catch (e) {
        if (res.ok) throw new ApiError(`bad JSON from ${path}: ${e.message}`, res.status, u);
    }
    if (!res.ok) {
        const msg = body && typeof body.error === 'string' ? body.error : (text.trim() || res.statusText);
        throw new ApiError(`${res.status} ${msg}`, res.status, u);
    }
    return { body, headers: res.headers };
}

// The FlameScope API calls.
export const listProfiles = () => getJSON('profile/');

export const heatmap = (filename, rows) =>
    getJSON('heatmap/', { filename, type: 'perf', rows });

export const flamegraph = (filename, start, end) =>
    getJSON('flamegraph/', { filename, type: 'perf', start, end });

// kind: 'differential' or 'elided'.  filename/start/end is the profile being looked at,
// compare* the baseline; "d" on each node is self(filename) - self(compare).
export const compare = (kind, filename, start, end, compareFilename, compareStart, compareEnd) =>
    getJSON(`${kind}/`, {
        filename, type: 'perf', start, end,
        compareFilename, compareType: 'perf', compareStart, compareEnd,
    });

// fntrace's own API.
// One page of the profile list: {list: [{filename, name, bytes, uploaded, index, samples,
// duration, invocations}], total}.  q: {sort, order, offset, limit, q}; index is "ready"
// (samples, duration in seconds, invocations set), "pending", "none" or "failed" (null).
export async function profilePage(q) {
    const { body, headers } = await fetchJSON('api/v1/profiles', q);
    if (!Array.isArray(body)) throw new ApiError('unexpected /api/v1/profiles answer', 200, 'api/v1/profiles');
    return { list: body, total: Number(headers.get('X-Total-Count')) || body.length };
}
// [{id, fn, start, end, status[, tid, rel_start, rel_end]}] (tid: the thread that ran it, null
// when unknown): when rel_* are there they are on
// the heatmap's scale and start/end are the raw header times.
// The server pages them (offset, limit; X-Next-Offset names the next page): this reads
// pages of INV_PAGE until the last one, or MAX_INVOCATIONS in all.
const INV_PAGE = 10000, MAX_INVOCATIONS = 200000;
export async function invocations(filename) {
    let all = [], offset = 0;
    for (;;) {
        const { body, headers } = await fetchJSON('api/v1/invocations', { filename, offset, limit: INV_PAGE });
        if (!Array.isArray(body)) throw new ApiError('unexpected /api/v1/invocations answer', 200, filename);
        all = all.concat(body);
        const next = Number(headers.get('X-Next-Offset'));
        if (!Number.isInteger(next) || next <= offset || !body.length || all.length >= MAX_INVOCATIONS) return all;
        offset = next;
    }
}

export const invocationFlamegraph = (filename, id) =>
    getJSON('api/v1/flamegraph', { filename, invocation: id });

// The export formats the server offers: [{name, ext, contentType, description}].
export const exportFormats = () => getJSON('api/v1/exports');

// what: {start, end} (seconds) or {invocation: ID}.
export const exportURL = (filename, what, format) =>
    url('api/v1/export', { filename, ...what, format });

// FlameScope's tree is {n, l, v (self count), c, [d (self delta)]}; d3-flame-graph wants
// {name, value (total), children}.  Returns the converted tree; value and delta become
// totals (self + children).  In a differential tree (the root has "d") a node without
// "d" is not in the baseline: all of its samples are new (delta = value, which
// d3-flame-graph colours as "only here").  Iterative, so very deep stacks cannot overflow
// the JS stack.
export function toFlameTree(root) {
    const differential = !!root && typeof root === 'object' && 'd' in root;
    const out = { name: '', value: 0, children: [] };
    const stack = [[root, out]];
    const order = [];
    while (stack.length) {
        const [src, dst] = stack.pop();
        dst.name = typeof src.n === 'string' ? src.n : String(src.n ?? '');
        dst.l = typeof src.l === 'string' ? src.l : '';
        dst.self = Number(src.v) || 0;
        if ('d' in src) dst.selfDelta = Number(src.d) || 0;
        dst.children = [];
        order.push(dst);
        for (const c of Array.isArray(src.c) ? src.c : []) {
            const child = {};
            dst.children.push(child);
            stack.push([c, child]);
        }
    }
    // children come after their parent in `order`: sum bottom-up
    for (let i = order.length - 1; i >= 0; i--) {
        const n = order[i];
        let v = n.self, d = n.selfDelta;
        for (const c of n.children) {
            v += c.value;
            if (d !== undefined) d += c.delta;
        }
        n.value = v;
        if (differential) n.delta = d === undefined ? v : d;
    }
    return out;
}

// Function name of a profile: the first path segment of its filename ("" at top level).
export function groupOf(filename) {
    const i = filename.indexOf('/');
    return i > 0 ? filename.slice(0, i) : '';
}
