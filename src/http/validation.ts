/**
 * Two Ajv instances: bodies are checked strictly (a number where a string belongs is an error,
 * never coerced), while query strings and path params, which are text by nature, are coerced.
 */
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import type { FieldProblem, Problem } from '../errors.js';

function createAjv(coerceTypes: boolean): Ajv {
  const ajv = new Ajv({ coerceTypes, allErrors: true, useDefaults: true, removeAdditional: false, strict: false });
  addFormats.default(ajv);
  return ajv;
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = createAjv(false);
  const coercing = createAjv(true);
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object);
}

const PROBLEM_OF_KEYWORD: Readonly<Record<string, Problem>> = {
  required: 'required',
  type: 'wrong_type',
  minLength: 'too_short',
  minItems: 'too_short',
  maxLength: 'too_long',
  maxItems: 'too_long',
  pattern: 'invalid_format',
  format: 'invalid_format',
  minimum: 'out_of_range',
  maximum: 'out_of_range',
};

/** Turns Ajv's errors into the contract's `details`: one entry per field and problem. */
export function fieldProblems(errors: readonly ErrorObject[], part: string): FieldProblem[] {
  const seen = new Set<string>();
  const problems: FieldProblem[] = [];
  for (const error of errors) {
    const path = error.instancePath.split('/').filter(Boolean);
    if (error.keyword === 'required' && typeof error.params.missingProperty === 'string') {
      path.push(error.params.missingProperty);
    }
    const field = path.length > 0 ? path.join('.') : part;
    const problem = PROBLEM_OF_KEYWORD[error.keyword] ?? 'not_allowed';
    const key = `${field}\u0000${problem}`;
    if (!seen.has(key)) {
      seen.add(key);
      problems.push({ field, problem });
    }
  }
  return problems;
}
