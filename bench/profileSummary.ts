/**
 * `npx tsx bench/profileSummary.ts FILE.cpuprofile [FROM_S] [TO_S]`: where a process profiled with
 * BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=DIR" spent its CPU, without opening a profiler UI. Prints the
 * busy milliseconds per second of the profile (to find the timed part: start-up compiles first), then,
 * within [FROM_S, TO_S) seconds, the busy time by package or project file (every frame of a stack counts
 * once: inclusive) and by function (self time). Idle time is left out.
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A package name for a file in node_modules, the path inside the project otherwise, `(native)` without a file. */
function owner(url: string): string {
  if (!url) return '(native)';
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (pkg) return pkg[1]!;
  const project = url.indexOf('/src/') >= 0 ? url.slice(url.indexOf('/src/') + 1) : url;
  return project.replace(/^file:\/\//, '');
}

function top(m: Map<string, number>, busy: number, n: number): string {
  return [...m]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([k, v]) => `${v.toFixed(0).padStart(7)} ms ${((100 * v) / busy).toFixed(1).padStart(5)} %  ${k}`)
    .join('\n');
}

export function summariseProfile(profile: Profile, fromS = 0, toS = Infinity, rows = 30): string {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const perSecond = new Map<number, number>();
  const byOwner = new Map<string, number>();
  const bySelf = new Map<string, number>();
  let t = 0;
  let busy = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i]!;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    const node = byId.get(profile.samples[i]!)!;
    if (node.callFrame.functionName === '(idle)') continue;
    const second = Math.floor(t / 1e6);
    perSecond.set(second, (perSecond.get(second) ?? 0) + ms);
    if (t / 1e6 < fromS || t / 1e6 >= toS) continue;
    busy += ms;
    const self = `${node.callFrame.functionName || '(anonymous)'}  ${owner(node.callFrame.url)}`;
    bySelf.set(self, (bySelf.get(self) ?? 0) + ms);
    const seen = new Set<string>();
    for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
      const url = byId.get(id)!.callFrame.url;
      if (!url || url.startsWith('node:')) continue;
      const o = owner(url);
      if (seen.has(o)) continue;
      seen.add(o);
      byOwner.set(o, (byOwner.get(o) ?? 0) + ms);
    }
  }
  return [
    `busy ms per second: ${[...perSecond].map(([s, v]) => `${s}:${v.toFixed(0)}`).join(' ')}`,
    `busy in [${fromS}, ${toS}) s: ${busy.toFixed(0)} ms`,
    '-- inclusive, by package or file',
    top(byOwner, busy, rows),
    '-- self, by function',
    top(bySelf, busy, rows),
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [file, from, to] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: npx tsx bench/profileSummary.ts FILE.cpuprofile [FROM_S] [TO_S]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  process.stdout.write(`${summariseProfile(profile, Number(from ?? 0), to === undefined ? Infinity : Number(to))}\n`);
}
