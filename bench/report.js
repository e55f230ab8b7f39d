// report.js - turns bench/run.sh's results (one JSON object per scenario) into the Markdown
// section appended to bench/RESULTS.md: each figure with its ratio to the nginx ceiling of the
// same run, and the issue's targets marked met or missed.
//   node bench/report.js META.json RESULTS.jsonl   -> Markdown on stdout
//   node bench/report.js --check RESULTS.jsonl     -> exit 1 unless every scenario ran cleanly
//                                                     (smoke mode; never looks at timings)
'use strict';
const fs = require('node:fs');

function rows(path) {
  return fs.readFileSync(path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

const WANT = ['ceiling', 'L0_healthz', 'S1_create', 'S2_retrieve', 'S3_list', 'S4_klarna_pay_now', 'S5_capture_refund'];

function check(path) {
  const rs = rows(path);
  const bad = [];
  for (const name of WANT) {
    const mine = rs.filter((r) => r.name === name);
    if (mine.length === 0) bad.push(`${name}: did not run`);
    for (const r of mine) {
      if (!(r.requests > 0 || r.completed > 0)) bad.push(`${name}: no request completed`);
      if ((r.errors || 0) > 0 || (r.failed || 0) > 0) bad.push(`${name}: ${r.errors || r.failed} errors ${r.last_error || ''}`);
      if ((r.webhooks_missing || 0) > 0 || (r.prepare_webhooks_missing || 0) > 0) bad.push(`${name}: webhooks missing`);
      if (r.rc !== 0) bad.push(`${name}: exit ${r.rc}`);
    }
  }
  for (const r of rs.filter((x) => x.name === 'seed')) if (r.failed > 0) bad.push(`seed (${r.scenario}): ${r.failed} failed ${r.last_error || ''}`);
  if (!rs.some((x) => x.name === 'seed' && x.scenario === 'clone' && x.completed > 0)) bad.push('seeding by cloning did not run');
  if (bad.length) {
    console.error(`bench smoke: FAILED\n  ${bad.join('\n  ')}`);
    process.exit(1);
  }
  console.error(`bench smoke: ok (${rs.length} results, every scenario ran without errors)`);
}

const ms = (us) => (us / 1000).toFixed(2);
const x = (a, b) => (b > 0 ? (a / b).toFixed(2) : '-');
const k = (n) => (n >= 1e6 ? `${n / 1e6}M` : n >= 1000 ? `${n / 1000}k` : String(n));

function report(metaPath, resPath) {
  const m = JSON.parse(fs.readFileSync(metaPath, 'utf8'));
  const rs = rows(resPath);
  const ng = rs.find((r) => r.name === 'ceiling');
  const ngCpuPerReq = ng.server_cpu_s / ng.requests * 1e6;
  const out = [];
  out.push(`## Run ${m.date}${m.smoke ? ' (smoke)' : ''}`, '');
  out.push(`- command: \`${m.command}\` (git ${m.git})`);
  out.push(`- machine: ${m.cpu}, ${m.cores} cores, ${m.mem}, ${m.os}, Linux ${m.kernel}; wrk and the servers share the cores`);
  out.push(`- nginx ${m.nginx}, wrk ${m.wrk}: \`wrk -t2 -c${m.conns} -d${m.seconds}s\`; S4/S5: bench/flow with ${m.flows} flows at once`);
  out.push(`- fsync ceiling: \`dd bs=4k count=2000 oflag=dsync\`: ${m.dsync}`);
  out.push(m.sim === 'separate'
    ? '- simulators: their own process (`kassa sim`, Kassa with `--sim-url`): server CPU and RSS are Kassa\'s alone'
    : '- simulators: inside Kassa\'s process (`--sim-listen`): server CPU and RSS include theirs');
  out.push('');
  out.push('| scenario | stored | req/s | × nginx | p50 ms | p99 ms | p99.9 ms | p99 × nginx | server CPU % | CPU µs/req (× nginx) | peak RSS MB | errors | load avg |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rs) {
    if (r.name === 'seed') continue;
    const flow = r.scenario === 's4' || r.scenario === 's5';
    const n = flow ? r.completed : r.requests;
    const cpuPct = (r.server_cpu_s / (r.wall_s || r.seconds) * 100).toFixed(0); // whole command (S5: incl. its preparation)
    // S5's CPU includes preparing its pool through the S4 flow, so per pair it is not comparable.
    const cpuPer = r.scenario === 's5' ? NaN : r.server_cpu_s / Math.max(n, 1) * 1e6;
    const unit = r.scenario === 's4' ? ' flows' : r.scenario === 's5' ? ' pairs' : '';
    out.push(`| ${r.name}${flow ? ` (${r.http_rps.toFixed(0)} HTTP req/s)` : ''} | ${k(r.stored)} | ${r.rps.toFixed(0)}${unit} | ${x(r.rps, ng.rps)} | `
      + `${ms(r.p50_us)} | ${ms(r.p99_us)} | ${ms(r.p999_us)} | ${x(r.p99_us, ng.p99_us)} | ${cpuPct} | `
      + `${Number.isNaN(cpuPer) ? '-' : `${cpuPer.toFixed(0)} (${x(cpuPer, ngCpuPerReq)})`} | ${(r.rss_peak_kb / 1024).toFixed(1)} | `
      + `${flow ? `${r.failed} failed, ${r.webhooks_missing} webhooks missing` : r.errors} | ${r.load || '-'} |`);
  }
  const simRows = rs.filter((r) => r.name !== 'seed' && r.server === 'kassa' && r.sim_cpu_s > 0);
  if (m.sim === 'separate' && simRows.length) {
    out.push('');
    out.push(`Simulators' own CPU beside Kassa's: ${simRows.map((r) => `${r.name} ${(r.sim_cpu_s / (r.wall_s || r.seconds) * 100).toFixed(0)} % `
      + `(Kassa ${(r.server_cpu_s / (r.wall_s || r.seconds) * 100).toFixed(0)} %)`).join('; ')}.`);
  }
  const seeds = rs.filter((r) => r.name === 'seed');
  if (seeds.length) {
    out.push('');
    const how = (s) => (s.scenario === 'clone'
      ? 'by cloning the API-written rows of one seeded payment (`bench/flow --mode clone`)'
      : 'through the API (`bench/flow --mode seed`, 64 at once)');
    out.push(`Seeding: ${seeds.map((s) => `to ${k(s.stored)}: ${s.completed} ${how(s)} in ${s.seconds.toFixed(1)} s (${s.rps.toFixed(0)}/s)`).join('; ')}.`);
  }
  // Targets (issue 14, "Performance, third round"; the first rounds asked 0.4/0.6/0.4 and 2,000/s).
  const get = (name, stored) => rs.filter((r) => r.name === name && (stored === undefined || r.stored === stored));
  const lo = Math.min(...rs.filter((r) => r.stored > 0 && r.name.startsWith('S2')).map((r) => r.stored));
  const t = [];
  const mark = (ok) => (ok ? 'met' : '**missed**');
  // The library's ceiling (L0_healthz: Kassa's fixed answer through libmicrohttpd, same wrk):
  // a missed S1-S3 ratio is judged against it, so the verdict says whether the HTTP library
  // or Kassa's own work per request is the measured limit.
  const lib = get('L0_healthz')[0];
  const libX = lib ? lib.rps / ng.rps : NaN;
  const cpuUs = (r) => r.server_cpu_s / Math.max(r.requests, 1) * 1e6;
  if (lib) {
    t.push(`the HTTP library's ceiling: Kassa's GET /healthz (inline on libmicrohttpd's I/O thread) ${lib.rps.toFixed(0)}/s = `
      + `${libX.toFixed(2)} × nginx, ${cpuUs(lib).toFixed(0)} µs CPU per answer against nginx's ${ngCpuPerReq.toFixed(0)} µs, p99 ${ms(lib.p99_us)} ms`);
  }
  const limitRatio = (name, want, r) => {
    if (!lib) return '';
    if (libX < want) {
      return ` — limit: libmicrohttpd's fixed answer is ${libX.toFixed(2)} × nginx here, so ${name} ≥ ${want} × cannot be met with this library`;
    }
    const share = (lib.rps / r.rps).toFixed(1);
    return ` — limit: Kassa's own work, not the library (its fixed answer reaches ${libX.toFixed(2)} × nginx): `
      + `${cpuUs(r).toFixed(0)} µs CPU per request against ${cpuUs(lib).toFixed(0)} µs for /healthz, ${share} × fewer answers/s`;
  };
  for (const [name, want] of [['S1_create', 0.2], ['S2_retrieve', 0.5], ['S3_list', 0.3]]) {
    for (const r of get(name)) {
      const ok = r.rps >= want * ng.rps;
      const p99ok = r.p99_us <= 10000;
      t.push(`${name} at ${k(r.stored)}: ${x(r.rps, ng.rps)} × nginx (target ≥ ${want}): ${mark(ok)}; `
        + `p99 ${ms(r.p99_us)} ms (target ≤ 10): ${mark(p99ok)}${ok ? '' : limitRatio(name, want, r)}`
        + `${p99ok || !lib ? '' : `; the library's own p99 at ${m.conns} connections is ${ms(lib.p99_us)} ms`}`);
    }
  }
  for (const r of [...get('S4_klarna_pay_now'), ...get('S4_klarna_pay_now_pg')]) {
    const n = Math.max(r.completed, 1);
    const perPay = r.server_cpu_s / n * 1e3;
    const simPay = r.sim_cpu_s / n * 1e3;
    const cliPay = r.client_cpu_s / n * 1e3;
    // The measured limit: CPU per payment of everything sharing the cores (Kassa, the
    // simulators, the driver) against the cores there are.
    const allPay = perPay + simPay + cliPay;
    const cap = m.cores * 1000 / allPay;
    const busy = (r.server_cpu_s + r.sim_cpu_s + r.client_cpu_s) / (r.wall_s || r.seconds) / m.cores;
    const room = m.cores - (simPay + cliPay); // ms of CPU per payment left for Kassa at 1000/s
    const need = room > 0
      ? `1000/s needs Kassa alone at ≤ ${room.toFixed(2)} ms, ${(perPay / room).toFixed(1)} × less than now`
      : `1000/s cannot be met on ${m.cores} cores even at no cost in Kassa: the simulators and the driver alone take ${(simPay + cliPay).toFixed(2)} ms`;
    const limit = r.rps >= 1000 ? '' : busy >= 0.85
      ? ` — limit: CPU. ${allPay.toFixed(2)} ms per payment on ${m.cores} cores (Kassa ${perPay.toFixed(2)}, simulators ${simPay.toFixed(2)}, driver ${cliPay.toFixed(2)}) `
        + `allows ${cap.toFixed(0)}/s; ${need}`
      : ` — limit: not this run's own CPU (its processes kept the cores ${(busy * 100).toFixed(0)} % busy, load average ${r.load || '?'}): `
        + `other load on the shared cores or waiting (fsync batches, the ${m.flows} flows' round trips: ${(r.p50_us / 1000).toFixed(0)} ms per flow at p50); `
        + `at ${allPay.toFixed(2)} ms per payment the cores allow ${cap.toFixed(0)}/s; ${need}`;
    t.push(`${r.name}: ${r.rps.toFixed(0)} complete payments/s (target ≥ 1000): ${mark(r.rps >= 1000)}, Kassa's CPU ${perPay.toFixed(2)} ms per completed payment`
      + `${r.sim_cpu_s > 0 ? ` (simulators apart: ${simPay.toFixed(2)} ms)` : ''}; webhooks missing ${r.webhooks_missing}: ${mark(r.webhooks_missing === 0 && r.failed === 0)}${limit}`);
  }
  for (const name of ['S1_create_pg', 'S2_retrieve_pg', 'S3_list_pg']) {
    for (const r of get(name)) {
      const base = get(name.replace(/_pg$/, ''), r.stored)[0];
      t.push(`${name} at ${k(r.stored)}: ${r.rps.toFixed(0)}/s, ${x(r.rps, ng.rps)} × nginx${base ? ` (SQLite: ${base.rps.toFixed(0)}/s)` : ''}, `
        + `CPU ${(r.server_cpu_s / Math.max(r.requests, 1) * 1e6).toFixed(0)} µs/req with PostgreSQL's processes; p99 ${ms(r.p99_us)} ms`);
    }
  }
  const levels = [...new Set(rs.filter((r) => r.name === 'S2_retrieve').map((r) => r.stored))];
  const hi = Math.max(...levels);
  if (levels.length > 1) {
    for (const name of ['S1_create', 'S2_retrieve', 'S3_list']) {
      const a = get(name).find((r) => r.stored === Math.min(...get(name).map((q) => q.stored)));
      const b = get(name).find((r) => r.stored === Math.max(...get(name).map((q) => q.stored)));
      if (!a || !b || a === b) continue;
      const d = (b.rps / a.rps - 1) * 100;
      t.push(`${name} at ${k(b.stored)} vs ${k(a.stored)}: ${d >= 0 ? '+' : ''}${d.toFixed(0)} % req/s (target within 10 %${hi >= 1e6 ? '' : ', at 1M: not measured in this run'}): ${mark(Math.abs(d) <= 10 || d > 0)}`);
    }
  }
  // *_pg rows count PostgreSQL's processes too (their shared buffers in each): not Kassa's RSS.
  const peak = Math.max(...rs.filter((r) => r.server === 'kassa' && !r.name.endsWith('_pg')).map((r) => r.rss_peak_kb));
  t.push(`peak RSS ${(peak / 1024).toFixed(1)} MB (target ≤ 100 MB): ${mark(peak <= 100 * 1024)}`);
  void lo;
  out.push('', 'Targets:', '', ...t.map((s) => `- ${s}`), '');
  console.log(out.join('\n'));
}

if (process.argv[2] === '--check') check(process.argv[3]);
else report(process.argv[2], process.argv[3]);
