/**
 * Holds the OpenAPI document to what the app really answers: every response any test receives
 * through `inject` must be documented for its operation (the status, and for an error the code
 * in that status's list). Each test file that starts an app fails at its end otherwise, so a new
 * error thrown by the core without being declared cannot go unnoticed.
 */
import assert from 'node:assert/strict';
import { after } from 'node:test';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';

interface Operation {
  responses: Record<
    string,
    { content?: { 'application/json'?: { schema?: { properties?: { error?: { enum?: string[] } } } } } }
  >;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
}

const undocumented = new Set<string>();
after(() => assert.deepEqual([...undocumented], [], 'answers missing from the OpenAPI document'));

export function checkAnswersAgainstDocument(app: FastifyInstance): void {
  const inject = app.inject.bind(app) as (options: InjectOptions | string) => Promise<LightMyRequestResponse>;
  let operations: { pattern: RegExp; method: string; operation: Operation }[] | undefined;
  const load = async () => {
    const document = JSON.parse((await inject({ method: 'GET', url: '/docs/json' })).body) as Document;
    return Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({
        pattern: new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}/?$`),
        method: method.toUpperCase(),
        operation,
      })),
    );
  };
  const checked = async (options: InjectOptions | string): Promise<LightMyRequestResponse> => {
    const response = await inject(options);
    const { method = 'GET', url = '/' } = typeof options === 'string' ? { url: options } : options;
    const path = String(url).split('?')[0] ?? '';
    operations ??= await load();
    const found = operations.find((o) => o.method === method.toUpperCase() && o.pattern.test(path));
    // Unknown paths and methods answer 404/405 from the not-found handler: no operation to hold.
    if (!found) return response;
    const answer = found.operation.responses[String(response.statusCode)];
    if (!answer) {
      undocumented.add(`${method} ${path}: status ${response.statusCode}`);
      return response;
    }
    const codes = answer.content?.['application/json']?.schema?.properties?.error?.enum;
    if (codes && response.statusCode >= 400) {
      const code = (JSON.parse(response.body) as { error?: string }).error ?? '';
      if (!codes.includes(code)) undocumented.add(`${method} ${path}: ${response.statusCode} ${code}`);
    }
    return response;
  };
  Object.assign(app, { inject: checked });
}
