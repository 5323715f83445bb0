/**
 * The benchmark's results and how they are shown: statistics over runs, ratios
 * to the baseline from the same round, targets, the text table printed to
 * stdout, the Markdown report and the SVG bar chart of ratios.
 *
 * Pure: no I/O, no clock. bench/run.ts measures and fills `BenchResults`.
 */

export type Better = 'higher' | 'lower';
export type Unit = 'msgs/s' | 'MB/s' | 'deliveries/s' | 'handshakes/s' | 'us' | 'bytes' | 'ms' | 'rate';

export interface MetricDef {
  /** Key in `RunResult.metrics`. */
  key: string;
  label: string;
  unit: Unit;
  better: Better;
  /** Show the ratio to the workload's baseline. */
  ratio: boolean;
  /** Draw the ratio in the SVG chart. */
  chart: boolean;
}

/** One measured window of one contestant (a fresh server process). */
export interface RunResult {
  contestant: string;
  /** Runs with the same round number ran back to back: ratios pair them. */
  round: number;
  ok: boolean;
  /** Why the run failed (the generator's error_detail, a crash, a timeout). */
  error: string;
  metrics: Record<string, number>;
  warnings: string[];
  /** CPU used over the window, in cores (1 = one core fully busy); null when not measured. */
  serverCpu: number | null;
  generatorCpu: number | null;
  othersCpu: number | null;
}

/** One step of a maximum-sustainable-rate search. */
export interface RateStep {
  contestant: string;
  /** Offered total messages per second. */
  rate: number;
  ok: boolean;
  pass: boolean;
  /** Why the step did not pass (empty when it passed). */
  reason: string;
  deliveriesPerS: number;
  p99Us: number;
  sendRatio: number;
  deliveryRatio: number;
}

export interface WorkloadResult {
  name: string;
  title: string;
  /** What is measured and how, one paragraph. */
  description: string;
  /** Deviations from the full benchmark (quick counts, skipped parts). */
  notes: string[];
  /** The contestant every ratio divides by; absent from `contestants` when not run. */
  baseline: string;
  contestants: string[];
  metrics: MetricDef[];
  runs: RunResult[];
  steps?: RateStep[];
}

export interface Machine {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  bun: string;
  kernel: string;
  /** "server on CPU 0, load generator on CPU 1 (taskset)" or "none (why)". */
  pinning: string;
  /** Open-file limit the measured processes got (null when unknown). */
  openFiles: number | null;
}

export interface BenchResults {
  /** ISO 8601. */
  date: string;
  mode: 'full' | 'quick' | 'smoke';
  runsPerContestant: number;
  warmupS: number;
  durationS: number;
  machine: Machine;
  workloads: WorkloadResult[];
  /** Problems not tied to one run (a server that could not be prepared...). */
  warnings: string[];
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  n: number;
}

/** The median of `values` (mean of the middle two for an even count); NaN when empty. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** Median, min and max of the finite values; null when there are none. */
export function summarize(values: readonly number[]): Summary | null {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return null;
  return { median: median(finite), min: Math.min(...finite), max: Math.max(...finite), n: finite.length };
}

/** The successful runs' values of `metric` for `contestant`. */
export function metricSummary(runs: readonly RunResult[], contestant: string, metric: string): Summary | null {
  return summarize(runs.filter((r) => r.contestant === contestant && r.ok).map((r) => r.metrics[metric] ?? Number.NaN));
}

/**
 * The ratio `contestant / versus` of `metric`, computed round by round (both
 * ran back to back, on the same machine state) and summarized over rounds.
 * Rounds where either failed, or the divisor is 0, are left out; null when no
 * round has both.
 */
export function ratioSummary(
  runs: readonly RunResult[],
  metric: string,
  contestant: string,
  versus: string,
): Summary | null {
  const ratios: number[] = [];
  const rounds = new Set(runs.map((r) => r.round));
  for (const round of rounds) {
    const a = runs.find((r) => r.round === round && r.contestant === contestant && r.ok);
    const b = runs.find((r) => r.round === round && r.contestant === versus && r.ok);
    const x = a?.metrics[metric];
    const y = b?.metrics[metric];
    if (x === undefined || y === undefined || !Number.isFinite(x) || !Number.isFinite(y) || y === 0) continue;
    ratios.push(x / y);
  }
  return summarize(ratios);
}

const GROUP = /\B(?=(\d{3})+(?!\d))/g;

function grouped(value: number, decimals = 0): string {
  const [whole, fraction] = value.toFixed(decimals).split('.');
  return fraction === undefined ? whole!.replace(GROUP, ',') : `${whole!.replace(GROUP, ',')}.${fraction}`;
}

/** A value for a table cell, with its unit. */
export function formatValue(value: number, unit: Unit): string {
  if (!Number.isFinite(value)) return '-';
  switch (unit) {
    case 'us':
      return value >= 1000 ? `${(value / 1000).toFixed(value >= 100_000 ? 0 : value >= 10_000 ? 1 : 2)} ms` : `${Math.round(value)} us`;
    case 'ms':
      return `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ms`;
    case 'bytes':
      if (Math.abs(value) >= 1024 * 1024) return `${(value / (1024 * 1024)).toFixed(1)} MiB`;
      if (Math.abs(value) >= 1024) return `${(value / 1024).toFixed(1)} KiB`;
      return `${Math.round(value)} B`;
    case 'MB/s':
      return `${grouped(value, value >= 100 ? 0 : 1)} MB/s`;
    case 'rate':
      return `${grouped(value)} msgs/s`;
    default:
      return `${grouped(value)} ${unit}`;
  }
}

/** "3.21x"; two significant decimals below 10. */
export function formatRatio(ratio: number): string {
  if (!Number.isFinite(ratio)) return '-';
  return `${ratio >= 10 ? ratio.toFixed(1) : ratio.toFixed(2)}x`;
}

/** "315,000 msgs/s (300,000 - 330,000)": the unit once when the range shares it. */
export function formatSummary(summary: Summary, format: (v: number) => string): string {
  const median = format(summary.median);
  if (summary.n === 1 || summary.min === summary.max) return median;
  const split = (text: string) => /^(-?[\d,.]+)(.*)$/.exec(text) ?? [text, text, ''];
  const [, , unit] = split(median);
  const [, minNumber, minUnit] = split(format(summary.min));
  const [, maxNumber, maxUnit] = split(format(summary.max));
  if (unit !== '' && minUnit === unit && maxUnit === unit) return `${median} (${minNumber} - ${maxNumber})`;
  return `${median} (${format(summary.min)} - ${format(summary.max)})`;
}

/** One table row: a contestant's results in a workload, as display strings. */
export interface Row {
  contestant: string;
  cells: string[];
  /** "3/3 ok", "FAILED: <why>", "1/3 FAILED: <why>". */
  status: string;
}

export interface Table {
  header: string[];
  rows: Row[];
}

/** The workload's table: value (median and min-max) and ratio per metric, then status. */
export function workloadTable(workload: WorkloadResult): Table {
  const header = ['server'];
  for (const metric of workload.metrics) {
    header.push(metric.label);
    if (metric.ratio) header.push(`${metric.label} vs ${workload.baseline} (${metric.better} is better)`);
  }
  header.push('status');
  const rows: Row[] = [];
  for (const contestant of workload.contestants) {
    const runs = workload.runs.filter((r) => r.contestant === contestant);
    const cells: string[] = [];
    for (const metric of workload.metrics) {
      const summary = metricSummary(runs, contestant, metric.key);
      cells.push(summary === null ? '-' : formatSummary(summary, (v) => formatValue(v, metric.unit)));
      if (metric.ratio) {
        const ratio =
          contestant === workload.baseline ? null : ratioSummary(workload.runs, metric.key, contestant, workload.baseline);
        cells.push(contestant === workload.baseline ? '1x' : ratio === null ? '-' : formatSummary(ratio, formatRatio));
      }
    }
    rows.push({ contestant, cells, status: runStatus(runs) });
  }
  return { header, rows };
}

/** "3/3 ok" or the failures, with the first reason; a busy machine is flagged. */
export function runStatus(runs: readonly RunResult[]): string {
  if (runs.length === 0) return 'not run';
  const failed = runs.filter((r) => !r.ok);
  const busy = runs.filter((r) => r.warnings.length > 0).length;
  const busyNote = busy > 0 ? ` (${busy} with warnings)` : '';
  if (failed.length === 0) return `${runs.length}/${runs.length} ok${busyNote}`;
  const reason = failed[0]!.error || 'unknown error';
  const prefix = failed.length === runs.length ? 'FAILED' : `${failed.length}/${runs.length} FAILED`;
  return `${prefix}: ${reason}${busyNote}`;
}

/** A fixed-width text table for the terminal. */
export function renderText(table: Table): string {
  const lines = [table.header, ...table.rows.map((r) => [r.contestant, ...r.cells, r.status])];
  const widths = table.header.map((_, i) => Math.max(...lines.map((l) => (l[i] ?? '').length)));
  return lines
    .map((line, index) => {
      const text = line.map((cell, i) => (i === line.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ');
      return index === 0 ? `${text}\n${widths.map((w) => '-'.repeat(w)).join('  ')}` : text;
    })
    .join('\n');
}

function markdownCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** A GitHub-flavoured Markdown table. */
export function renderMarkdownTable(table: Table): string {
  const header = `| ${table.header.map(markdownCell).join(' | ')} |`;
  const rule = `|${table.header.map((_, i) => (i === 0 || i === table.header.length - 1 ? ' --- ' : ' ---: ')).join('|')}|`;
  const rows = table.rows.map((r) => `| ${[r.contestant, ...r.cells, r.status].map(markdownCell).join(' | ')} |`);
  return [header, rule, ...rows].join('\n');
}

/** A goal from issue 4 or 9, as a ratio between two contestants of one workload. */
export interface Target {
  workload: string;
  metric: string;
  contestant: string;
  versus: string;
  op: '>=' | '<=' | '<';
  value: number;
  text: string;
}

export const TARGETS: readonly Target[] = [
  { workload: 'echo32', metric: 'msgs_per_s', contestant: 'wschat', versus: 'ws', op: '>=', value: 3, text: 'Echo 32 B: >= 3x ws' },
  {
    workload: 'echo64k',
    metric: 'mb_per_s',
    contestant: 'wschat',
    versus: 'ws+bufferutil',
    op: '>=',
    value: 1,
    text: 'Echo 64 KiB: >= ws+bufferutil, without native code',
  },
  { workload: 'fanout', metric: 'deliveries_per_s', contestant: 'wschat', versus: 'ws', op: '>=', value: 7, text: 'Fan-out: >= 7x ws' },
  { workload: 'fanout', metric: 'deliveries_per_s', contestant: 'wschat', versus: 'bun', op: '>=', value: 0.8, text: 'Fan-out: >= 0.8x Bun' },
  { workload: 'echo32', metric: 'msgs_per_s', contestant: 'wschat', versus: 'bun', op: '>=', value: 0.5, text: 'Echo 32 B: >= 0.5x Bun' },
  {
    workload: 'compress-small',
    metric: 'msgs_per_s',
    contestant: 'wschat',
    versus: 'ws',
    op: '>=',
    value: 2,
    text: 'Small compressed messages: >= 2x ws',
  },
  {
    workload: 'idle',
    metric: 'rss_per_conn',
    contestant: 'wschat',
    versus: 'ws',
    op: '<=',
    value: 0.8,
    text: 'Idle memory per connection: <= 0.8x ws',
  },
  { workload: 'connect', metric: 'handshakes_per_s', contestant: 'wschat', versus: 'ws', op: '>=', value: 1.2, text: 'Connect: >= 1.2x ws' },
  {
    workload: 'compress',
    metric: 'msgs_per_s',
    contestant: 'wschat',
    versus: 'ws',
    op: '>=',
    value: 1,
    text: 'Compression throughput: >= 1.0x ws',
  },
  {
    workload: 'compress',
    metric: 'rss_per_conn',
    contestant: 'wschat',
    versus: 'ws',
    op: '<=',
    value: 1,
    text: 'Compression memory per connection: <= 1.0x ws',
  },
  {
    workload: 'chat-max',
    metric: 'max_deliveries_per_s',
    contestant: 'wschat (memory)',
    versus: 'socket.io',
    op: '>=',
    value: 3,
    text: 'Chat: >= 3x socket.io sustainable deliveries/s (memory store)',
  },
  {
    workload: 'chat-max',
    metric: 'max_deliveries_per_s',
    contestant: 'wschat (SQLite)',
    versus: 'socket.io',
    op: '>=',
    value: 3,
    text: 'Chat: >= 3x socket.io sustainable deliveries/s (SQLite store)',
  },
  {
    workload: 'chat',
    metric: 'p99_us',
    contestant: 'wschat (memory)',
    versus: 'socket.io',
    op: '<',
    value: 1,
    text: 'Chat: lower p99 than socket.io at equal load (memory store)',
  },
  {
    workload: 'chat',
    metric: 'p99_us',
    contestant: 'wschat (SQLite)',
    versus: 'socket.io',
    op: '<',
    value: 1,
    text: 'Chat: lower p99 than socket.io at equal load (SQLite store)',
  },
  {
    workload: 'chat-multinode-max',
    metric: 'max_deliveries_per_s',
    contestant: 'wschat (Redis)',
    versus: 'socket.io (Redis)',
    op: '>=',
    value: 3,
    text: 'Chat on 3 nodes and Redis: >= 3x socket.io with its Redis adapter, sustainable deliveries/s (issue 9)',
  },
];

export interface TargetResult {
  target: Target;
  ratio: Summary | null;
  /** null when it could not be measured in this run. */
  met: boolean | null;
}

/** Each target against the median per-round ratio of this run. */
export function evaluateTargets(results: BenchResults, targets: readonly Target[] = TARGETS): TargetResult[] {
  return targets.map((target) => {
    const workload = results.workloads.find((w) => w.name === target.workload);
    const ratio = workload ? ratioSummary(workload.runs, target.metric, target.contestant, target.versus) : null;
    if (ratio === null) return { target, ratio, met: null };
    const r = ratio.median;
    const met = target.op === '>=' ? r >= target.value : target.op === '<=' ? r <= target.value : r < target.value;
    return { target, ratio, met };
  });
}

/**
 * Evidence that the load generator is not what limits wschat: the rate it
 * reached against Bun (the fastest peer) next to wschat's, and how busy its
 * own core was during wschat's runs.
 */
export function generatorCheck(results: BenchResults): string[] {
  const lines: string[] = [];
  const checks: Array<[string, string, Unit]> = [
    ['echo32', 'msgs_per_s', 'msgs/s'],
    ['echo64k', 'mb_per_s', 'MB/s'],
    ['fanout', 'deliveries_per_s', 'deliveries/s'],
    ['connect', 'handshakes_per_s', 'handshakes/s'],
  ];
  for (const [name, metric, unit] of checks) {
    const workload = results.workloads.find((w) => w.name === name);
    if (!workload) continue;
    const wschat = metricSummary(workload.runs, 'wschat', metric);
    const bun = metricSummary(workload.runs, 'bun', metric);
    const genCpu = summarize(
      workload.runs.filter((r) => r.contestant === 'wschat' && r.ok).map((r) => r.generatorCpu ?? Number.NaN),
    );
    const cpuText = genCpu === null ? '' : `; the generator's core was ${Math.round(genCpu.max * 100)}% busy at most during wschat's runs`;
    if (wschat === null) continue;
    if (bun === null) {
      lines.push(`- ${name}: wschat ${formatValue(wschat.median, unit)}; Bun was not measured in this run${cpuText}.`);
      continue;
    }
    const factor = bun.median / wschat.median;
    const verdict =
      factor > 1.05
        ? `the generator drives Bun ${formatRatio(factor)} past wschat's figure, so it is not what limits wschat`
        : `Bun is not faster than wschat here, so this comparison does not prove the generator has headroom`;
    lines.push(
      `- ${name}: against Bun the generator reached ${formatValue(bun.median, unit)}, against wschat ${formatValue(wschat.median, unit)}: ${verdict}${cpuText}.`,
    );
  }
  return lines;
}

/** The Markdown report: machine, settings, every workload's table, targets, generator check, warnings. */
export function renderMarkdown(results: BenchResults): string {
  const m = results.machine;
  const out: string[] = [];
  out.push('# wschat benchmark');
  out.push('');
  out.push(`Run on ${results.date} with \`npm run bench${results.mode === 'full' ? '' : ` -- --${results.mode}`}\`.`);
  out.push('');
  out.push('| machine | |');
  out.push('| --- | --- |');
  out.push(`| CPU | ${markdownCell(m.cpu)} (${m.cores} cores) |`);
  out.push(`| memory | ${m.memoryGiB.toFixed(1)} GiB |`);
  out.push(`| kernel | Linux ${markdownCell(m.kernel)} |`);
  out.push(`| Node | ${m.node} |`);
  out.push(`| Bun | ${m.bun} |`);
  out.push(`| pinning | ${markdownCell(m.pinning)} |`);
  out.push(`| open files | ${m.openFiles ?? 'unknown'} per process |`);
  out.push('');
  out.push(
    `${results.runsPerContestant} run(s) per server and workload, each with a fresh server process, ` +
      `${results.warmupS} s of warm-up then a ${results.durationS} s measured window (unless a workload says otherwise). ` +
      'Values are the median over runs with the range (min - max) in parentheses. Ratios divide by the baseline ' +
      'measured in the same round (back to back), then take the median over rounds.',
  );
  if (results.mode !== 'full') {
    out.push('');
    out.push(
      `**This is a ${results.mode} pass**: shorter windows and fewer runs than the full benchmark; workloads say where counts were reduced.`,
    );
  }
  out.push('');
  out.push('![ratios to the baseline](ratios.svg)');
  for (const workload of results.workloads) {
    out.push('');
    out.push(`## ${workload.title}`);
    out.push('');
    out.push(workload.description);
    for (const note of workload.notes) {
      out.push('');
      out.push(`> ${note}`);
    }
    out.push('');
    out.push(renderMarkdownTable(workloadTable(workload)));
    if (workload.steps && workload.steps.length > 0) {
      out.push('');
      out.push('| server | offered msgs/s | deliveries/s | p99 | completed / offered messages | delivered / offered deliveries | result |');
      out.push('| --- | ---: | ---: | ---: | ---: | ---: | --- |');
      for (const s of workload.steps) {
        const result = !s.ok ? `FAILED: ${s.reason}` : s.pass ? 'sustained' : `not sustained: ${s.reason}`;
        out.push(
          `| ${s.contestant} | ${grouped(s.rate)} | ${s.ok ? grouped(s.deliveriesPerS) : '-'} | ${s.ok ? formatValue(s.p99Us, 'us') : '-'} | ${s.ok ? s.sendRatio.toFixed(3) : '-'} | ${s.ok ? s.deliveryRatio.toFixed(3) : '-'} | ${markdownCell(result)} |`,
        );
      }
    }
    const warned = workload.runs.filter((r) => r.warnings.length > 0);
    if (warned.length > 0) {
      out.push('');
      for (const run of warned) out.push(`- warning (${run.contestant}, round ${run.round}): ${run.warnings.join('; ')}`);
    }
  }
  out.push('');
  out.push('## Targets (issues 4 and 9)');
  out.push('');
  out.push('| target | measured | met |');
  out.push('| --- | ---: | --- |');
  for (const t of evaluateTargets(results)) {
    const measured = t.ratio === null ? 'not measured' : formatSummary(t.ratio, formatRatio);
    out.push(`| ${t.target.text} | ${measured} | ${t.met === null ? '-' : t.met ? 'yes' : '**no**'} |`);
  }
  out.push('');
  out.push('## Is the load generator the bottleneck?');
  out.push('');
  const check = generatorCheck(results);
  out.push(...(check.length > 0 ? check : ['- Not shown: wschat was not measured on the echo or fan-out workloads in this run.']));
  if (results.warnings.length > 0) {
    out.push('');
    out.push('## Warnings');
    out.push('');
    for (const warning of results.warnings) out.push(`- ${warning}`);
  }
  out.push('');
  return out.join('\n');
}

const PALETTE: Record<string, string> = {
  wschat: '#2563eb',
  'wschat (memory)': '#2563eb',
  'wschat (SQLite)': '#7c3aed',
  'wschat (Redis)': '#0891b2',
  'ws+bufferutil': '#d97706',
  bun: '#059669',
};

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Horizontal bars of each contestant's median ratio to its workload's
 * baseline (log scale, 1x marked), with the min-max range as a whisker. One
 * group per charted metric; failed contestants are labelled, not drawn.
 */
export function renderSvg(results: BenchResults): string {
  interface Bar {
    label: string;
    color: string;
    ratio: Summary | null;
    failed: boolean;
  }
  interface Group {
    title: string;
    bars: Bar[];
  }
  const groups: Group[] = [];
  for (const workload of results.workloads) {
    for (const metric of workload.metrics.filter((x) => x.chart && x.ratio)) {
      const bars: Bar[] = workload.contestants
        .filter((c) => c !== workload.baseline)
        .map((c) => ({
          label: c,
          color: PALETTE[c] ?? '#6b7280',
          ratio: ratioSummary(workload.runs, metric.key, c, workload.baseline),
          failed: workload.runs.some((r) => r.contestant === c) && workload.runs.every((r) => r.contestant !== c || !r.ok),
        }));
      if (bars.length === 0) continue;
      const arrow = metric.better === 'higher' ? 'higher is better' : 'lower is better';
      groups.push({ title: `${workload.title}: ${metric.label} vs ${workload.baseline} (${arrow})`, bars });
    }
  }
  const values = groups.flatMap((g) => g.bars.flatMap((b) => (b.ratio ? [b.ratio.min, b.ratio.max] : [])));
  const lo = Math.min(0.25, ...values.map((v) => v / 1.2));
  const hi = Math.max(4, ...values.map((v) => v * 1.2));
  const minExp = Math.floor(Math.log2(lo));
  const maxExp = Math.ceil(Math.log2(hi));
  const width = 820;
  const left = 160;
  const plot = 560;
  const barHeight = 16;
  const rowHeight = 22;
  const titleHeight = 26;
  const x = (v: number) => left + ((Math.log2(v) - minExp) / (maxExp - minExp)) * plot;
  const bodyHeight = groups.reduce((sum, g) => sum + titleHeight + g.bars.length * rowHeight + 8, 0);
  const top = 34;
  const height = top + bodyHeight + 20;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
  );
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${left}" y="20" font-size="14" font-weight="bold">Ratio to the baseline, same run (log scale)</text>`,
  );
  const tickLabel = (v: number) => `${Number(v.toPrecision(3))}x`;
  // Grid lines are drawn per group, under its bars only, so titles stay clear.
  const grid = (from: number, to: number) => {
    for (let e = minExp; e <= maxExp; e++) {
      const px = x(2 ** e).toFixed(1);
      parts.push(
        `<line x1="${px}" y1="${from}" x2="${px}" y2="${to}" stroke="${e === 0 ? '#111827' : '#e5e7eb'}" stroke-width="${e === 0 ? 1.5 : 1}"/>`,
      );
    }
  };
  let y = top;
  for (const group of groups) {
    parts.push(`<text x="8" y="${y + 16}" font-weight="bold">${escapeXml(group.title)}</text>`);
    y += titleHeight;
    grid(y - 3, y + group.bars.length * rowHeight - 3);
    for (const bar of group.bars) {
      parts.push(`<text x="${left - 8}" y="${y + 12}" text-anchor="end">${escapeXml(bar.label)}</text>`);
      if (bar.ratio === null) {
        parts.push(
          `<text x="${x(1) + 6}" y="${y + 12}" fill="${bar.failed ? '#dc2626' : '#6b7280'}">${bar.failed ? 'FAILED' : 'not measured'}</text>`,
        );
      } else {
        const from = Math.min(x(1), x(bar.ratio.median));
        const to = Math.max(x(1), x(bar.ratio.median));
        parts.push(
          `<rect x="${from.toFixed(1)}" y="${y}" width="${Math.max(1, to - from).toFixed(1)}" height="${barHeight}" fill="${bar.color}"/>`,
        );
        if (bar.ratio.max > bar.ratio.min) {
          const mid = y + barHeight / 2;
          parts.push(
            `<line x1="${x(bar.ratio.min).toFixed(1)}" y1="${mid}" x2="${x(bar.ratio.max).toFixed(1)}" y2="${mid}" stroke="#111827" stroke-width="1"/>`,
          );
        }
        const labelX = Math.max(to, x(bar.ratio.max)) + 6;
        parts.push(`<text x="${labelX.toFixed(1)}" y="${y + 12}">${escapeXml(formatRatio(bar.ratio.median))}</text>`);
      }
      y += rowHeight;
    }
    y += 8;
  }
  for (let e = minExp; e <= maxExp; e++) {
    parts.push(
      `<text x="${x(2 ** e).toFixed(1)}" y="${y + 8}" text-anchor="middle" fill="#374151">${escapeXml(tickLabel(2 ** e))}</text>`,
    );
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
