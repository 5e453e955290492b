/**
 * A route's options from one description: the checks that run before its handler, and the
 * schema (validation, serialisation and the OpenAPI operation) with every answer the route can
 * give. Error answers are derived from what the checks and the core declare they throw, so the
 * document cannot drift from the code: test/helpers.ts fails any test whose answer is not in it.
 */
import type { onRequestHookHandler } from 'fastify';
import { type TObject, type TSchema, Type } from 'typebox';
import { type ErrorCode, STATUS_OF } from '../errors.js';

export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

/** `Authorization: Bearer <JWT>`. */
export const BEARER: readonly SecurityRequirement[] = [{ bearerAuth: [] }];
/** Either scheme: a Bearer header, or the session cookie a browser got from `"transport": "cookie"`. */
export const BEARER_OR_COOKIE: readonly SecurityRequirement[] = [{ bearerAuth: [] }, { cookieAuth: [] }];

/** A check that runs before a route's handler (a guard, a rate limit), with the errors it answers. */
export interface Precondition {
  hook: onRequestHookHandler;
  errors: readonly ErrorCode[];
  /** The credential it checks, for the OpenAPI operation. */
  security?: readonly SecurityRequirement[];
}

/** Parsing a JSON body can fail these ways, before any handler runs. */
export const BODY_ERRORS: readonly ErrorCode[] = ['validation_failed', 'payload_too_large', 'unsupported_media_type'];

/** Every error body: a stable code from a closed list, and one human sentence. */
export function errorBody(codes: readonly ErrorCode[], description = 'Every error, whatever its status.') {
  return Type.Object(
    {
      error: Type.Enum([...codes], { description: 'Stable error code.' }),
      message: Type.String({ description: 'One human sentence.' }),
      details: Type.Optional(
        Type.Array(Type.Object({ field: Type.String(), problem: Type.String() }), {
          description: 'Which fields failed and why.',
        }),
      ),
    },
    { description },
  );
}

/**
 * Node's HTTP parser refuses oversized headers before any route runs (app.ts answers it), so
 * every operation can give this answer.
 */
const HEADERS_TOO_LARGE = errorBody(['payload_too_large'], 'The request headers are too large.');

/** The error answers for `codes`, one per status, each listing the codes it can carry. */
export function errorAnswers(codes: readonly ErrorCode[]): Record<number, TObject> {
  const byStatus = new Map<number, Set<ErrorCode>>();
  for (const code of [...codes, 'internal' as const]) {
    const status = STATUS_OF[code];
    byStatus.set(status, (byStatus.get(status) ?? new Set()).add(code));
  }
  const answers: Record<number, TObject> = { 431: HEADERS_TOO_LARGE };
  for (const [status, set] of [...byStatus].sort(([a], [b]) => a - b)) answers[status] = errorBody([...set].sort());
  return answers;
}

interface InputSchemas {
  body?: TSchema;
  querystring?: TSchema;
  params?: TSchema;
}

export interface EndpointSpec<I extends InputSchemas, A extends Record<number, TSchema>> {
  operationId: string;
  tag: string;
  summary: string;
  description?: string;
  /** Run in order before the handler: a rate limit first, then a guard. */
  before?: readonly Precondition[];
  /** For routes whose handler reads the credential itself (a Bearer or a body token). */
  security?: readonly SecurityRequirement[];
  input?: I;
  /** The answers that are not errors (and any error answer with a shape of its own). */
  answers: A;
  /** What the core operations the handler calls may throw. */
  errors?: readonly ErrorCode[];
}

export function endpoint<I extends InputSchemas = Record<never, never>, A extends Record<number, TSchema> = never>(
  spec: EndpointSpec<I, A>,
) {
  const before = spec.before ?? [];
  const inputErrors: ErrorCode[] = spec.input && Object.keys(spec.input).length > 0 ? ['validation_failed'] : [];
  const codes = new Set<ErrorCode>([
    ...inputErrors,
    ...(spec.input?.body ? BODY_ERRORS : []),
    ...before.flatMap((check) => check.errors),
    ...(spec.errors ?? []),
  ]);
  const security = spec.security ?? before.find((check) => check.security)?.security ?? [];
  return {
    onRequest: before.map((check) => check.hook),
    schema: {
      operationId: spec.operationId,
      tags: [spec.tag],
      summary: spec.summary,
      ...(spec.description !== undefined && { description: spec.description }),
      security,
      ...(spec.input as I),
      response: { ...errorAnswers([...codes]), ...spec.answers },
    },
  };
}
