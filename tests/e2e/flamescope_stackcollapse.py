"""An independent re-implementation of Brendan Gregg's stackcollapse-perf.pl (default
options: process names, tidy generic and java, period weighting, first event type only)
for the flamescope export tests; Debian does not package FlameGraph.  Written from the
Perl script's rules, sharing no code with flamescope's C."""
import re
def stackcollapse(text):
    collapsed = {}
    stack = []; pname = None; period = 1; event_filter = ""
    for line in text.split('\n'):
        if line.startswith('#'):
            continue
        line = line.rstrip('\n')
        if line == '':
            if not pname:
                continue
            key = ';'.join([pname] + stack)
            collapsed[key] = collapsed.get(key, 0) + period
            stack = []; pname = None
            continue
        m = re.match(r'^(\S.+?)\s+(\d+)/*(\d+)*\s+', line)
        if m:
            per = ""
            m2 = re.search(r':\s*(\d+)*\s+(\S+):\s*$', line)
            if m2:
                per = m2.group(1) or ""
                ev = m2.group(2)
                if event_filter == "":
                    event_filter = ev
                elif ev != event_filter:
                    continue
            period = int(per) if per not in ("", "0") else 1
            pname = m.group(1).replace(' ', '_')
            continue
        m = re.match(r'^\s*(\w+)\s*(.+) \((\S*)\)', line)
        if not m or not pname:
            continue
        pc, rawfunc, mod = m.groups()
        rawfunc = re.sub(r'\+0x[\da-f]+$', '', rawfunc)
        if rawfunc.startswith('('):
            continue
        parts = rawfunc.split('->')
        while parts and parts[-1] == '':
            parts.pop()
        inline = []
        for func in parts:
            if func == '[unknown]':
                func = '[' + (re.sub(r'.*/', '', mod) if mod != '[unknown]' else 'unknown') + ']'
            func = func.replace(';', ':')
            if not re.search(r'\.\(.*\)\.', func):
                func = re.sub(r'\((?!anonymous namespace\)).*', '', func)
            func = func.replace('"', '').replace("'", '')
            if pname == 'java' and '/' in func:
                func = re.sub(r'^L', '', func)
            if inline:
                func += '_[i]'
            inline.append(func)
        stack = inline + stack
    return ''.join('%s %d\n' % (k, collapsed[k]) for k in sorted(collapsed, key=lambda s: s.encode()))
