// dom.js — a tiny element builder, so views read as nested calls instead of HTML strings
// (and nothing from the server is ever parsed as HTML).
//   h('a', {href: '#', class: 'x', onclick: fn}, 'text', child, [more, children])

export function h(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
        if (v === undefined || v === null || v === false) continue;
        if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
        else if (k === 'dataset') Object.assign(e.dataset, v);
        else if (v === true) e.setAttribute(k, '');
        else e.setAttribute(k, String(v));
    }
    append(e, children);
    return e;
}

function append(e, children) {
    for (const c of children) {
        if (c === undefined || c === null || c === false) continue;
        if (Array.isArray(c)) append(e, c);
        else e.append(c instanceof Node ? c : String(c));
    }
}

export const $ = (sel, root = document) => root.querySelector(sel);

// Replaces the children of E (same rules as h: null/false skipped, arrays flattened).
export function fill(e, ...children) {
    e.replaceChildren();
    append(e, children);
    return e;
}
