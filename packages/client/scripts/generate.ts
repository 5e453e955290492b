/**
 * Writes src/schema.ts from the OpenAPI document the server itself serves (/docs/json), through
 * openapi-typescript: the client's types are generated, never copied by hand. A test runs this
 * and fails when the committed file differs.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { schemaSource } from './schema-source.js';

writeFileSync(join(import.meta.dirname, '..', 'src', 'schema.ts'), await schemaSource());
console.log('wrote packages/client/src/schema.ts');
