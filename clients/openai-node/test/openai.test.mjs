// The worker's OpenAI images API through the official openai client. openai_test.sh starts the
// worker (one model, tiny-ldm, a bearer token, a queue of two, batches of one) and sets
// GENLOOM_OPENAI_BASE_URL and GENLOOM_OPENAI_TOKEN.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

const baseURL = process.env.GENLOOM_OPENAI_BASE_URL;
const apiKey = process.env.GENLOOM_OPENAI_TOKEN;
if (!baseURL || !apiKey) {
  throw new Error('set GENLOOM_OPENAI_BASE_URL and GENLOOM_OPENAI_TOKEN (openai_test.sh does)');
}
// No retries: a 429 or a 5xx must reach the test, not be retried away.
const client = new OpenAI({ baseURL, apiKey, maxRetries: 0 });
const model = 'tiny-ldm';

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
function pngSize(bytes) {
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.equal(bytes.toString('ascii', 12, 16), 'IHDR');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

test('images.generate returns n PNGs of the asked size as b64_json', async () => {
  const response = await client.images.generate({
    model,
    prompt: 'a red circle on a blue background',
    n: 2,
    size: '32x32',
    response_format: 'b64_json',
  });
  assert.equal(response.data.length, 2);
  assert.ok(response.created > 1_600_000_000);
  for (const image of response.data) {
    assert.deepEqual(pngSize(Buffer.from(image.b64_json, 'base64')), [32, 32]);
  }
});

test('models.list lists the served model in the list shape', async () => {
  const ids = [];
  for await (const m of client.models.list()) {
    assert.equal(m.object, 'model');
    assert.equal(m.owned_by, 'genloom');
    ids.push(m.id);
  }
  assert.deepEqual(ids, [model]);
});

test('a bad size is an APIError with status 400 naming size', async () => {
  await assert.rejects(
    client.images.generate({ model, prompt: 'a red circle', size: '32by32' }),
    (e) => {
      assert.ok(e instanceof OpenAI.APIError, String(e));
      assert.equal(e.status, 400);
      assert.equal(e.param, 'size');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    },
  );
});

test('an unknown model is a 404 naming model', async () => {
  await assert.rejects(client.images.generate({ model: 'dall-e-3', prompt: 'a red circle' }), (e) => {
    assert.ok(e instanceof OpenAI.NotFoundError, String(e));
    assert.equal(e.param, 'model');
    return true;
  });
});

test('a wrong token is a 401', async () => {
  const wrong = new OpenAI({ baseURL, apiKey: 'not-the-token', maxRetries: 0 });
  await assert.rejects(wrong.models.list(), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, String(e));
    assert.equal(e.status, 401);
    return true;
  });
  await assert.rejects(
    wrong.images.generate({ model, prompt: 'a red circle', response_format: 'b64_json' }),
    (e) => e instanceof OpenAI.AuthenticationError,
  );
});

test('an overloaded queue is a 429', async () => {
  // The worker holds two requests (--max-queue 2) and computes one at a time (--max-batch 1).
  // Each call asks for two slow images (300 steps, seconds each): whichever arrives first takes both
  // slots and computes its first image, so the other finds one free slot at most and is refused
  // whole.
  const slow = () =>
    client.images.generate({ model, prompt: 'a red circle', n: 2, steps: 300, response_format: 'b64_json' });
  const settled = await Promise.allSettled([slow(), slow()]);
  const refused = settled.filter((s) => s.status === 'rejected');
  const served = settled.filter((s) => s.status === 'fulfilled');
  assert.equal(refused.length, 1, JSON.stringify(settled.map((s) => s.reason?.message ?? 'ok')));
  assert.ok(refused[0].reason instanceof OpenAI.RateLimitError, String(refused[0].reason));
  assert.equal(refused[0].reason.status, 429);
  assert.match(refused[0].reason.message, /queue is full/);
  assert.equal(served[0].value.data.length, 2);
});
