// state.js — the UI state lives in the URL hash, so every view can be shared as a link.
//
//   #                                    profile list (newest first, first page)
//   #sort=K&order=asc|desc&offset=N&q=TEXT the list sorted by K (time, name, samples,
//                                        duration, invocations), from its Nth trace,
//                                        filtered by TEXT
//   #file=F&rows=50                      heatmap of F
//   …&start=S&end=E                      flame graph of the range [S, E] (seconds from the
//                                        profile's first whole second, as the API takes them:
//                                        no start is 0, no end or end=0 the profile's end)
//   …&inv=ID                             flame graph of one invocation
//   …&search=RE                          highlighted frames
//   …&base=F2&bs=S2&be=E2&view=diff      differential against the baseline F2 [S2, E2]
//                                        (view=elided: the elided frames instead)
//   …&layout=icicle                      icicle instead of flame layout
//   …&tw=A,B                             the invocation timeline's window [A, B] (seconds,
//                                        as start/end), and the table's invocations in it
//   …&ipage=N                            page N (from 1) of the invocation table
//
// read() parses the hash into a plain object; update(patch) merges a patch (null or ''
// deletes a key) and writes the hash, which fires 'hashchange' and re-renders.

export const KEYS = ['file', 'rows', 'start', 'end', 'inv', 'search', 'base', 'bs', 'be', 'view', 'layout',
    'sort', 'order', 'offset', 'q', 'tw', 'ipage'];
export const ROW_CHOICES = [25, 50, 100];
export const DEFAULT_ROWS = 50;

export function read() {
    const p = new URLSearchParams(location.hash.replace(/^#\/?/, ''));
    const s = {};
    for (const k of KEYS) {
        const v = p.get(k);
        if (v !== null && v !== '') s[k] = v;
    }
    const rows = parseInt(s.rows, 10);
    s.rows = ROW_CHOICES.includes(rows) ? rows : DEFAULT_ROWS;
    for (const k of ['start', 'end', 'bs', 'be']) {
        if (k in s && !Number.isFinite(Number(s[k]))) delete s[k];
    }
    if ('tw' in s && !timelineWindow(s.tw)) delete s.tw;
    if ('ipage' in s && !/^[1-9][0-9]{0,8}$/.test(s.ipage)) delete s.ipage;
    return s;
}

// The timeline window a tw value names, [a, b] with 0 <= a < b, or null.
export function timelineWindow(tw) {
    const m = /^([0-9.]+),([0-9.]+)$/.exec(tw || '');
    if (!m) return null;
    const [a, b] = [Number(m[1]), Number(m[2])];
    return Number.isFinite(a) && Number.isFinite(b) && a < b ? [a, b] : null;
}

export function href(s) {
    const p = new URLSearchParams();
    for (const k of KEYS) {
        const v = s[k];
        if (v === undefined || v === null || v === '') continue;
        if (k === 'rows' && Number(v) === DEFAULT_ROWS) continue;
        p.set(k, String(v));
    }
    const q = p.toString();
    return q ? `#${q}` : '#';
}

export function update(patch, replace = false) {
    const next = { ...read(), ...patch };
    const h = href(next);
    if (h === (location.hash || '#')) return;
    if (replace) {
        history.replaceState(null, '', h);
        window.dispatchEvent(new HashChangeEvent('hashchange'));
    } else {
        location.hash = h;
    }
}

// Seconds as the API and the URL carry them: at most millisecond precision, no float noise.
export function secs(x) {
    return String(Math.round(x * 1000) / 1000);
}
