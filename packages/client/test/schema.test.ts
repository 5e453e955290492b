/** The client's types are generated from the server's OpenAPI document, and kept in step with it. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { schemaSource } from '../scripts/schema-source.js';

it('src/schema.ts is what openapi-typescript makes of the current OpenAPI document (npm run generate -w @tessera/client)', async () => {
  const committed = readFileSync(join(import.meta.dirname, '..', 'src', 'schema.ts'), 'utf8');
  assert.equal(committed, await schemaSource());
});
