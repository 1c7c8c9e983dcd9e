#!/usr/bin/env node
// Builds the translation-fidelity matrix (docs/matrix.md) from the MATRIX
// lines a test run printed (tests/matrix/run.mjs, one section per inbound
// API), read from ctest's log:
//   MATRIX <section> <kind> <row> pass|fail|unsupported[: reason]
//
//   node tests/matrix.mjs LOG                 print the three tables
//   node tests/matrix.mjs LOG --write FILE    and write them as Markdown
//   node tests/matrix.mjs LOG --check FILE    exit 1 when FILE differs
//
// Exits 1 when a cell failed.
import fs from 'node:fs';

import { ROWS } from './matrix/rows.mjs';

const SECTIONS = [
  ['chat', 'Chat Completions in (`POST /v1/chat/completions`)'],
  ['responses', 'Responses in (`POST /v1/responses`)'],
  ['messages', 'Anthropic Messages in (`POST /v1/messages`)'],
];
const KIND_ORDER = ['echo', 'openai', 'azure', 'anthropic', 'bedrock', 'gemini', 'cohere', 'ollama'];

const args = process.argv.slice(2);
const opt = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : null);
const writeTo = opt('--write');
const checkAgainst = opt('--check');
const log = args.find((a, i) => !a.startsWith('--') && !['--write', '--check'].includes(args[i - 1]));
if (!log) {
  console.error('usage: matrix.mjs CTEST_LOG [--write FILE] [--check FILE]');
  process.exit(2);
}

const sections = new Map(SECTIONS.map(([s]) => [s, new Map()])); // section -> row -> kind -> cell
const kinds = new Set();
const LINE = /^MATRIX (chat|responses|messages) (\S+) (\S+) (pass|fail|unsupported)(?::\s*(.*))?$/;
for (const raw of fs.readFileSync(log, 'utf8').split('\n')) {
  // Reporters may prefix diagnostics ("# ", "ℹ "); the line starts at MATRIX.
  const at = raw.indexOf('MATRIX ');
  const m = at < 0 ? null : LINE.exec(raw.slice(at).trim());
  if (!m) continue;
  const [, section, kind, row, status, reason] = m;
  kinds.add(kind);
  const rows = sections.get(section);
  if (!rows.has(row)) rows.set(row, new Map());
  const prev = rows.get(row).get(kind);
  // Seen twice (release and sanitizer runs in one log): a failure wins.
  if (!prev || status === 'fail') rows.get(row).set(kind, { status, reason: reason || '' });
}
if (!kinds.size) {
  console.log('matrix: no MATRIX lines found');
  process.exit(checkAgainst ? 1 : 0);
}

const cols = [...KIND_ORDER.filter((k) => kinds.has(k)), ...[...kinds].filter((k) => !KIND_ORDER.includes(k)).sort()];
const mark = (c) => (!c ? '–' : c.status === 'pass' ? 'pass'
  : c.status === 'fail' ? '**FAIL**' : `n/s (${c.reason.replace(/\|/g, '\\|')})`);

function table(section) {
  const rows = sections.get(section);
  const order = ROWS.filter((r) => !r.sections || r.sections.includes(section)).map((r) => r.id);
  const out = [`| row | ${cols.join(' | ')} |`, `|---|${cols.map(() => '---').join('|')}|`];
  for (const r of order) out.push(`| ${r} | ${cols.map((k) => mark(rows.get(r)?.get(k))).join(' | ')} |`);
  return out.join('\n');
}

const body = SECTIONS.map(([s, title]) => `## ${title}\n\n${table(s)}\n`).join('\n');
console.log('\nTranslation-fidelity matrix (n/s: not supported by the provider, –: no test yet)\n');
console.log(body);

const doc = '# Translation-fidelity matrix\n\n'
  + 'Generated from a test run by `node tests/matrix.mjs build/Testing/Temporary/LastTest.log --write docs/matrix.md`; '
  + '`./.ci/bootstrap test` fails when this file differs from what its run produced. '
  + 'One section per inbound API, one column per provider kind. Each cell is one test against the kind\'s strict emulator '
  + '(tests/matrix/: rows.mjs, and one adapter per kind in kinds/). '
  + '"n/s" means not supported by the provider, with the reason; its test checks what the gateway answers instead. '
  + '"–" means no test exists for that cell yet.\n\n' + body;
if (writeTo) fs.writeFileSync(writeTo, doc);
let differs = false;
if (checkAgainst) {
  const have = fs.existsSync(checkAgainst) ? fs.readFileSync(checkAgainst, 'utf8') : '';
  if (have !== doc) {
    differs = true;
    const a = have.split('\n');
    const b = doc.split('\n');
    const i = a.findIndex((l, k) => l !== b[k]);
    console.error(`matrix: ${checkAgainst} differs from this run's matrix (first at line ${i + 1}):`);
    console.error(`  committed: ${a[i] ?? '(end)'}`);
    console.error(`  this run:  ${b[i] ?? '(end)'}`);
    console.error(`regenerate it: node tests/matrix.mjs ${log} --write ${checkAgainst}`);
  }
}
const failed = [...sections.values()].some((rows) => [...rows.values()].some((m) => [...m.values()].some((c) => c.status === 'fail')));
process.exit(failed || differs ? 1 : 0);
