// fmt.js — how the UI writes times and durations, in one place for every view.
//
// Times are seconds from the profile's first whole second (the heatmap's columns, the
// API's start/end).  Durations take the unit that keeps them readable: "850 µs",
// "12.3 ms", "1.204 s" (the server's SVG export writes them the same way).

export const fmtS = (x) => `${(+x).toFixed(3)} s`;

export function fmtDur(x) {
    x = +x;
    if (!Number.isFinite(x)) return '?';
    const a = Math.abs(x);
    if (a < 0.001) return `${+(x * 1e6).toFixed(1)} µs`;
    if (a < 1) return `${(x * 1000).toFixed(1)} ms`;
    return `${x.toFixed(3)} s`;
}

// "1.000 s – 3.000 s (2.000 s)": a range with its length.
export const fmtRange = (a, b) => `${fmtS(a)} – ${fmtS(b)} (${fmtDur(b - a)})`;

export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
