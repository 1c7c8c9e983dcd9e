// Azure OpenAI through the gateway: both URL styles, the api-key header,
// and Azure's own error bodies, against the OpenAI
// emulator in its strict Azure mode.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startGateway, postChat, streamChat, chatBody, errorOf } from './harness.mjs';

const KEY = 'azure-test-key-0123456789';

describe('azure provider kind', () => {
  let emu;
  let gw;

  before(async () => {
    emu = await startOpenAIEmulator({ apiKey: KEY, azure: true, quiet: true });
    const base = emu.url.replace(/\/v1$/, '');
    gw = await startGateway({
      config: {
        providers: [
          { name: 'az', kind: 'azure', base_url: base, api_key_env: 'SB_AZ_KEY',
            models: ['gpt-4o-mini'], options: { api_version: '2024-10-21' } },
          { name: 'azv1', kind: 'azure', base_url: base, api_key_env: 'SB_AZ_KEY', models: ['gpt-4o-mini'] },
          { name: 'azbad', kind: 'azure', base_url: base, api_key_env: 'SB_AZ_BAD', models: ['gpt-4o-mini'] },
        ],
      },
      env: { SB_AZ_KEY: KEY, SB_AZ_BAD: 'wrong-key' },
    });
  });
  after(async () => {
    if (gw) await gw.stop();
    if (emu) await emu.close();
  });

  test('dated API: deployment URL with api-version, api-key header, no Authorization', async () => {
    const r = await postChat(gw.url, chatBody('az/gpt-4o-mini', 'hello azure'), { headers: { authorization: 'Bearer client-secret' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.choices[0].message.content, 'You said: hello azure');
    const up = emu.stats.requests.at(-1);
    assert.equal(up.path, '/openai/deployments/gpt-4o-mini/chat/completions');
    assert.equal(up.query, '?api-version=2024-10-21');
    assert.equal(up.headers['api-key'], KEY);
    assert.equal(up.headers.authorization, undefined);
  });

  test('v1 API: /openai/v1/chat/completions with the model in the body, streamed', async () => {
    const r = await streamChat(gw.url, chatBody('azv1/gpt-4o-mini', 'stream me', { stream: true }));
    assert.equal(r.status, 200);
    assert.ok(r.done, 'stream ended with [DONE]');
    assert.equal(r.contentText, 'You said: stream me');
    const up = emu.stats.requests.at(-1);
    assert.equal(up.path, '/openai/v1/chat/completions');
    assert.equal(up.body.model, 'gpt-4o-mini');
  });

  test("a key Azure refuses is the gateway's problem: 502 upstream_auth_failed", async () => {
    const r = await postChat(gw.url, chatBody('azbad/gpt-4o-mini', 'x'));
    assert.equal(r.status, 502);
    const e = errorOf(r);
    assert.equal(e.code, 'upstream_auth_failed');
    assert.ok(!e.message.includes('wrong-key'));
  });
});

describe('azure config', () => {
  test('an unknown option is refused at start-up, naming it', async () => {
    await assert.rejects(
      startGateway({ config: { providers: [{ name: 'az', kind: 'azure', base_url: 'http://127.0.0.1:9', models: ['m'], options: { api_versoin: 'x' } }] } }),
      (err) => /providers\[0\]\.options\.api_versoin: unknown option/.test(String(err.message || err)),
    );
  });
});
