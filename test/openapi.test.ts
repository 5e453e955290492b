/**
 * The OpenAPI document passes a standard linter: Redocly's recommended rules (the rules of
 * `redocly lint`), with no error and no warning, so client generators and API portals take it
 * as it is.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createConfig, lintFromString } from '@redocly/openapi-core';
import { startApp } from './helpers.js';

describe('OpenAPI document', () => {
  it("passes Redocly's recommended rules with no problem at all", async (t) => {
    const { app } = await startApp(t, 'sqlite');
    const source = (await app.inject({ method: 'GET', url: '/docs/json' })).body;
    const problems = await lintFromString({
      source,
      absoluteRef: 'openapi.json',
      config: await createConfig({ extends: ['recommended'] }),
    });
    const described = problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message} (${p.location[0]?.pointer ?? ''})`);
    assert.deepEqual(described, []);
  });

  it('names every operation, uniquely, and says what credential each needs', async (t) => {
    const { app } = await startApp(t, 'sqlite');
    const document = JSON.parse((await app.inject({ method: 'GET', url: '/docs/json' })).body) as {
      paths: Record<string, Record<string, { operationId?: string; security?: unknown[] }>>;
    };
    const operations = Object.values(document.paths).flatMap((item) => Object.values(item));
    const ids = operations.map((o) => o.operationId);
    assert.equal(new Set(ids).size, ids.length);
    assert.ok(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id)));
    assert.ok(operations.every((o) => Array.isArray(o.security)));
    assert.deepEqual(document.paths['/auth/login']?.post?.security, []);
    assert.deepEqual(document.paths['/auth/whoami']?.get?.security, [{ bearerAuth: [] }, { cookieAuth: [] }]);
    assert.deepEqual(document.paths['/auth/refresh']?.get?.security, [{ bearerAuth: [] }]);
  });
});
