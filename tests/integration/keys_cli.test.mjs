// `switchboard keys create|list|revoke` and `switchboard admin-key create`
// against a real database file (docs/reference.md, "API keys"): the
// secret goes to stdout once and nowhere else, the list never shows it,
// usage errors exit 2.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

import {
  runSwitchboard, tempDir, queryDb, expectedSchemaVersion,
} from './harness.mjs';

const GATEWAY_SECRET = /^sk-sb-[0-9a-f]{64}\n$/;
const ADMIN_SECRET = /^sk-sb-admin-[0-9a-f]{64}\n$/;

function freshDb() {
  return path.join(tempDir('sb-keys-'), 'keys.db');
}

async function sb(args, opts) {
  const r = await runSwitchboard(args, { timeoutMs: 10000, ...opts });
  assert.equal(r.timedOut, false, `switchboard ${args.join(' ')} did not exit`);
  return r;
}

async function create(db, ...args) {
  const r = await sb(['keys', 'create', '--db', db, ...args]);
  assert.equal(r.code, 0, `keys create ${args.join(' ')}: ${r.stderr}`);
  assert.match(r.stdout, GATEWAY_SECRET);
  return r.stdout.trim();
}

async function listJson(db) {
  const r = await sb(['keys', 'list', '--json', '--db', db]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout);
}

const sha256hex = (s) => crypto.createHash('sha256').update(s).digest('hex').toUpperCase();

describe('keys cli', () => {
  test('keys create prints only the secret; the database keeps its hash', async () => {
    const db = freshDb();
    const r = await sb(['keys', 'create', '--name', 'alice', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, GATEWAY_SECRET, 'stdout is exactly one line with the secret');
    const secret = r.stdout.trim();
    assert.match(r.stderr, /alice/);
    assert.ok(!r.stderr.includes(secret), 'the secret is not repeated on stderr');

    const rows = await queryDb(db, 'SELECT id, name, prefix, hex(hash) AS hash, role, created_at, revoked_at FROM api_keys');
    assert.equal(rows.length, 1);
    assert.match(rows[0].id, /^key_[0-9a-f]{16}$/);
    assert.equal(rows[0].name, 'alice');
    assert.equal(rows[0].prefix, secret.slice(0, 12));
    assert.equal(rows[0].hash, sha256hex(secret));
    assert.equal(rows[0].role, 'gateway');
    assert.ok(Math.abs(rows[0].created_at - Date.now() / 1000) < 60);
    assert.equal(rows[0].revoked_at, null);
    assert.ok(r.stderr.includes(rows[0].id), 'stderr names the new id');

    // The schema was brought up to date on the way.
    const v = await queryDb(db, 'SELECT max(version) AS v FROM schema_migrations');
    assert.equal(v[0].v, expectedSchemaVersion());
  });

  test('secrets differ every time', async () => {
    const db = freshDb();
    const seen = new Set();
    for (let i = 0; i < 5; i++) seen.add(await create(db, '--name', `k${i}`));
    assert.equal(seen.size, 5);
  });

  test('options are stored as given', async () => {
    const db = freshDb();
    await create(db, '--name', 'full', '--models', 'openai/gpt-4o*, echo/*', '--rpm', '60', '--tpm', '100000',
      '--parallel', '4', '--budget', '12.5', '--period', 'weekly', '--expires', '2030-01-02', '--tags', 'team-a,ci');
    await create(db, '--name', 'monthly', '--budget=3', '--expires', '2030-01-02T03:04:05Z');
    await create(db, '--name', 'unix', '--expires', '1900000000');
    const keys = await listJson(db);
    assert.deepEqual(keys.map((k) => k.name), ['full', 'monthly', 'unix']);
    const [full, monthly, unix] = keys;
    assert.deepEqual(full.models, ['openai/gpt-4o*', 'echo/*']);
    assert.equal(full.rpm, 60);
    assert.equal(full.tpm, 100000);
    assert.equal(full.max_parallel, 4);
    assert.equal(full.budget_usd, 12.5);
    assert.equal(full.budget_period, 'weekly');
    assert.equal(full.expires_at, 1893542400);
    assert.deepEqual(full.tags, ['team-a', 'ci']);
    assert.equal(full.status, 'active');
    assert.equal(monthly.budget_period, 'monthly', '--budget without --period means monthly');
    assert.equal(monthly.budget_usd, 3);
    assert.equal(monthly.expires_at, 1893542400 + 3 * 3600 + 4 * 60 + 5);
    assert.equal(unix.expires_at, 1900000000);
    assert.equal(unix.models, null);
    assert.equal(unix.budget_usd, null);
    assert.equal(unix.rpm, 0);

    const rows = await queryDb(db, "SELECT models, tags FROM api_keys WHERE name = 'full'");
    assert.deepEqual(JSON.parse(rows[0].models), ['openai/gpt-4o*', 'echo/*']);
    assert.deepEqual(JSON.parse(rows[0].tags), ['team-a', 'ci']);
  });

  test('keys list shows the key without its secret', async () => {
    const db = freshDb();
    const secret = await create(db, '--name', 'listed', '--rpm', '7', '--models', 'echo/*');
    const r = await sb(['keys', 'list', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(!r.stdout.includes(secret), 'the table does not show the secret');
    assert.ok(!r.stdout.includes(secret.slice(12)), 'nor its random part');
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.stdout);
    assert.match(lines[0], /^ID\s+NAME\s+PREFIX\s+ROLE\s+MODELS\s+LIMITS\s+BUDGET\s+EXPIRES\s+STATUS$/);
    assert.match(lines[1], /^key_[0-9a-f]{16}\s+listed\s+/);
    assert.ok(lines[1].includes(secret.slice(0, 12)), 'the prefix is shown');
    assert.match(lines[1], /echo\/\*/);
    assert.match(lines[1], /rpm=7/);
    assert.match(lines[1], /never\s+active$/);

    const keys = await listJson(db);
    assert.equal(keys.length, 1);
    assert.equal(keys[0].prefix, secret.slice(0, 12));
    assert.equal(keys[0].role, 'gateway');
    assert.ok(!('hash' in keys[0]), 'no hash in the JSON');
    assert.ok(!('secret' in keys[0]), 'no secret in the JSON');
    assert.ok(!JSON.stringify(keys).includes(secret.slice(12)));

    const empty = await sb(['keys', 'list', '--json', '--db', freshDb()]);
    assert.equal(empty.code, 0, empty.stderr);
    assert.deepEqual(JSON.parse(empty.stdout), []);
  });

  test('keys revoke by name and by id', async () => {
    const db = freshDb();
    await create(db, '--name', 'one');
    await create(db, '--name', 'two');
    let r = await sb(['keys', 'revoke', 'one', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '');
    let keys = await listJson(db);
    assert.equal(keys[0].status, 'revoked');
    assert.ok(Math.abs(keys[0].revoked_at - Date.now() / 1000) < 60);
    assert.equal(keys[1].status, 'active');

    // Again: still fine, and the first revocation time stays.
    r = await sb(['keys', 'revoke', '--db', db, 'one']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await listJson(db))[0].revoked_at, keys[0].revoked_at);

    r = await sb(['keys', 'revoke', keys[1].id, '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    keys = await listJson(db);
    assert.deepEqual(keys.map((k) => k.status), ['revoked', 'revoked']);
    const table = await sb(['keys', 'list', '--db', db]);
    assert.match(table.stdout, /revoked\n.*revoked\n$/);

    r = await sb(['keys', 'revoke', 'nobody', '--db', db]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /nobody/);
  });

  test('a name in use is refused', async () => {
    const db = freshDb();
    await create(db, '--name', 'same');
    const r = await sb(['keys', 'create', '--name', 'same', '--db', db]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /already exists/);
    assert.equal((await listJson(db)).length, 1);
  });

  test('expired keys show as expired', async () => {
    const db = freshDb();
    const r = await sb(['keys', 'create', '--name', 'old', '--expires', '2001-01-01', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /past/);
    assert.equal((await listJson(db))[0].status, 'expired');
  });

  test('admin-key create makes an admin key', async () => {
    const db = freshDb();
    let r = await sb(['admin-key', 'create', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, ADMIN_SECRET);
    const secret = r.stdout.trim();
    r = await sb(['admin-key', 'create', '--name', 'ops', '--db', db]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, ADMIN_SECRET);
    const rows = await queryDb(db, 'SELECT name, role, prefix, hex(hash) AS hash FROM api_keys ORDER BY rowid');
    assert.deepEqual(rows.map((x) => [x.name, x.role]), [['admin', 'admin'], ['ops', 'admin']]);
    assert.equal(rows[0].hash, sha256hex(secret));
    assert.ok(rows[0].prefix.startsWith('sk-sb-admin-'));
    assert.equal(rows[0].prefix, secret.slice(0, 18));

    r = await sb(['admin-key', 'create', '--db', db]);
    assert.equal(r.code, 1, 'the default name is taken now');
    assert.equal(r.stdout, '');
  });

  test('the database file never holds a secret', async () => {
    const db = freshDb();
    const secrets = [
      await create(db, '--name', 'a', '--models', 'x/*'),
      await create(db, '--name', 'b', '--budget', '1'),
    ];
    const admin = await sb(['admin-key', 'create', '--db', db]);
    assert.equal(admin.code, 0, admin.stderr);
    secrets.push(admin.stdout.trim());
    await sb(['keys', 'revoke', 'a', '--db', db]);
    await sb(['keys', 'list', '--db', db]);
    const files = [db, `${db}-wal`, `${db}-shm`, `${db}-journal`].filter((f) => existsSync(f));
    assert.ok(files.length >= 1);
    for (const f of files) {
      const bytes = readFileSync(f);
      for (const s of secrets) {
        assert.equal(bytes.indexOf(Buffer.from(s)), -1, `${path.basename(f)} holds a secret`);
        assert.equal(bytes.indexOf(Buffer.from(s.slice(-58))), -1, `${path.basename(f)} holds a secret's random part`);
      }
    }
  });

  test('the database comes from --db, SWITCHBOARD_DB or the config file', async () => {
    const dir = tempDir('sb-keys-');
    const fromEnv = path.join(dir, 'env.db');
    const fromCfg = path.join(dir, 'cfg.db');
    const fromFlag = path.join(dir, 'flag.db');
    const cfg = path.join(dir, 'config.json');
    writeFileSync(cfg, JSON.stringify({ database: fromCfg }));

    let r = await sb(['keys', 'create', '--name', 'c', '--config', cfg], { env: { SWITCHBOARD_DB: '' } });
    assert.equal(r.code, 0, r.stderr);
    r = await sb(['keys', 'create', '--name', 'e', '--config', cfg], { env: { SWITCHBOARD_DB: fromEnv } });
    assert.equal(r.code, 0, r.stderr);
    r = await sb(['keys', 'create', '--name', 'f', '--config', cfg, '--db', fromFlag], { env: { SWITCHBOARD_DB: fromEnv } });
    assert.equal(r.code, 0, r.stderr);
    r = await sb(['keys', 'create', '--name', 'd'], { cwd: dir, env: { SWITCHBOARD_DB: '' } });
    assert.equal(r.code, 0, r.stderr);

    const names = async (db) => (await queryDb(db, 'SELECT name FROM api_keys')).map((x) => x.name);
    assert.deepEqual(await names(fromCfg), ['c']);
    assert.deepEqual(await names(fromEnv), ['e']);
    assert.deepEqual(await names(fromFlag), ['f']);
    assert.deepEqual(await names(path.join(dir, 'switchboard.db')), ['d']);

    r = await sb(['keys', 'list', '--config', path.join(dir, 'missing.json')], { cwd: dir });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /missing\.json/);
  });

  test('usage errors exit 2 and name the bad option', async () => {
    const db = freshDb();
    const cases = [
      [['keys'], /subcommand/],
      [['keys', 'bogus'], /bogus/],
      [['admin-key'], /subcommand/],
      [['admin-key', 'list'], /list/],
      [['keys', 'create'], /--name/],
      [['keys', 'create', '--name'], /--name/],
      [['keys', 'create', '--name', ''], /--name/],
      [['keys', 'create', '--name', 'x', '--bogus', '1'], /--bogus/],
      [['keys', 'create', '--name', 'x', '--rpm', '-1'], /--rpm/],
      [['keys', 'create', '--name', 'x', '--tpm', 'lots'], /--tpm/],
      [['keys', 'create', '--name', 'x', '--parallel', '1.5'], /--parallel/],
      [['keys', 'create', '--name', 'x', '--budget', 'ten'], /--budget/],
      [['keys', 'create', '--name', 'x', '--budget', '-3'], /--budget/],
      [['keys', 'create', '--name', 'x', '--budget', '3', '--period', 'yearly'], /--period/],
      [['keys', 'create', '--name', 'x', '--period', 'daily'], /--period/],
      [['keys', 'create', '--name', 'x', '--expires', '2025-02-30'], /--expires/],
      [['keys', 'create', '--name', 'x', '--expires', 'tomorrow'], /--expires/],
      [['keys', 'create', '--name', 'x', '--models', 'a,,b'], /--models/],
      [['keys', 'create', '--name', 'x', '--tags', ','], /--tags/],
      [['keys', 'create', '--name', 'key_0123456789abcdef'], /--name/],
      [['keys', 'create', '--name', 'x'.repeat(65)], /--name/],
      [['keys', 'create', '--name', 'x', 'extra'], /extra/],
      [['keys', 'list', '--json=yes'], /--json/],
      [['keys', 'list', 'extra'], /extra/],
      [['keys', 'revoke'], /id or name/],
      [['keys', 'revoke', 'a', 'b'], /'b'/],
      [['admin-key', 'create', '--name', ''], /--name/],
      [['admin-key', 'create', '--rpm', '5'], /--rpm/],
    ];
    for (const [args, re] of cases) {
      const r = await sb([...args, '--db', db]);
      const what = `switchboard ${args.join(' ')}`;
      assert.equal(r.code, 2, `${what}: exit ${r.code}, stderr: ${r.stderr}`);
      assert.equal(r.stdout, '', `${what}: nothing on stdout`);
      assert.match(r.stderr, re, `${what}: stderr names the problem`);
    }
    // None of them touched the database.
    assert.equal(existsSync(db), false);
  });

  test('--help describes the key commands', async () => {
    for (const args of [['keys', '--help'], ['keys', 'create', '--help'], ['admin-key', '-h']]) {
      const r = await sb(args);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /keys create --name NAME/);
      assert.match(r.stdout, /admin-key create/);
    }
    const r = await sb(['--help']);
    assert.match(r.stdout, /keys create\|list\|revoke/);
  });
});
