// The official openai SDK drives every provider kind through the gateway,
// each against its strict emulator: a plain answer, a stream, and a tool
// round trip (the model calls a tool, the SDK sends the result back, the
// model answers from it).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startGateway } from '../integration/harness.mjs';
import { startOpenAIEmulator } from '../emulators/openai.mjs';
import { startAnthropicEmulator } from '../emulators/anthropic.mjs';
import { startGeminiEmulator } from '../emulators/gemini.mjs';
import { startOllamaEmulator } from '../emulators/ollama.mjs';
import { startCohereEmulator } from '../emulators/cohere.mjs';
import { startBedrockEmulator } from '../emulators/bedrock.mjs';

const KEY = 'e2e-provider-key-0123456789';
const TOOLS = [{ type: 'function', function: { name: 'get_weather', description: 'Weather in a city',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
const NAMED = { type: 'function', function: { name: 'get_weather' } };

// kind, emulator, provider config (base_url from the emulator), a model,
// and the tool_choice that makes that emulator call the tool.
const KINDS = [
  { kind: 'openai', start: () => startOpenAIEmulator({ apiKey: KEY, quiet: true }), base: (e) => e.url, model: 'gpt-4o-mini', choice: NAMED },
  { kind: 'azure', start: () => startOpenAIEmulator({ apiKey: KEY, azure: true, quiet: true }), base: (e) => e.url.replace(/\/v1$/, ''), model: 'gpt-4o-mini', choice: NAMED },
  { kind: 'anthropic', start: () => startAnthropicEmulator({ apiKey: KEY, quiet: true }), base: (e) => e.url, model: 'claude-sonnet-4-5', choice: NAMED },
  { kind: 'gemini', start: () => startGeminiEmulator({ apiKey: KEY, quiet: true }), base: (e) => e.url, model: 'gemini-2.5-flash', choice: NAMED },
  { kind: 'cohere', start: () => startCohereEmulator({ apiKey: KEY, quiet: true }), base: (e) => e.url, model: 'command-a-03-2025', choice: NAMED },
  // Bedrock signs with SigV4; the emulator checks the signature for real.
  { kind: 'bedrock', start: () => startBedrockEmulator({ accessKey: 'AKIDEXAMPLE', secretKey: KEY, region: 'us-east-1', quiet: true }),
    base: (e) => e.url, model: 'anthropic.claude-3-haiku-20240307-v1:0', choice: NAMED, noKey: true,
    options: { region: 'us-east-1', access_key_env: 'SB_E2E_AWS_AK', secret_key_env: 'SB_E2E_PROVIDER_KEY' } },
  // Ollama cannot force a tool: its model calls the
  // tools the user names.
  { kind: 'ollama', start: () => startOllamaEmulator({ quiet: true }), base: (e) => e.url, model: 'llama3.2:latest', choice: 'auto', noKey: true },
];

for (const k of KINDS) {
  describe(`openai SDK → ${k.kind}`, () => {
    let emu;
    let gw;
    let client;
    const model = `${k.kind}/${k.model}`;

    before(async () => {
      emu = await k.start();
      const provider = { name: k.kind, kind: k.kind, base_url: k.base(emu), models: [k.model] };
      if (!k.noKey) provider.api_key_env = 'SB_E2E_PROVIDER_KEY';
      if (k.options) provider.options = k.options;
      gw = await startGateway({ config: { providers: [provider] }, env: { SB_E2E_PROVIDER_KEY: KEY, SB_E2E_AWS_AK: 'AKIDEXAMPLE' } });
      client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    });
    after(async () => {
      if (gw) await gw.stop();
      if (emu) await emu.close();
    });

    test('chat.completions.create', async () => {
      const r = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'Hello there' }], max_tokens: 64 });
      assert.match(r.choices[0].message.content, /Hello there/);
      assert.equal(r.choices[0].finish_reason, 'stop');
      assert.ok(r.usage.prompt_tokens > 0 && r.usage.completion_tokens > 0);
    });

    test('stream with usage', async () => {
      const stream = await client.chat.completions.create({
        model, stream: true, stream_options: { include_usage: true }, max_tokens: 64,
        messages: [{ role: 'user', content: 'Stream this please' }],
      });
      let text = '';
      let usage = null;
      let finish = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        finish = chunk.choices[0]?.finish_reason ?? finish;
        usage = chunk.usage ?? usage;
      }
      assert.match(text, /Stream this please/);
      assert.equal(finish, 'stop');
      assert.ok(usage && usage.completion_tokens > 0, 'usage chunk arrived');
    });

    test('tool round trip', async () => {
      const messages = [{ role: 'user', content: 'call get_weather [tools] for Paris' }];
      const first = await client.chat.completions.create({ model, messages, tools: TOOLS, tool_choice: k.choice, max_tokens: 256 });
      const msg = first.choices[0].message;
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      assert.equal(msg.tool_calls.length, 1);
      assert.equal(msg.tool_calls[0].function.name, 'get_weather');
      assert.equal(typeof JSON.parse(msg.tool_calls[0].function.arguments), 'object');
      messages.push(msg, { role: 'tool', tool_call_id: msg.tool_calls[0].id, content: '18C and sunny' });
      const second = await client.chat.completions.create({ model, messages, tools: TOOLS, max_tokens: 256 });
      assert.equal(second.choices[0].finish_reason, 'stop');
      assert.equal(typeof second.choices[0].message.content, 'string');
      assert.ok(second.choices[0].message.content.length > 0);
    });
  });
}
