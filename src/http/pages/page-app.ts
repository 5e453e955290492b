/** The instance type page modules register on, and reading a form field that may not have validated. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest, onRequestHookHandler, preValidationHookHandler } from 'fastify';
import { type TObject, type TProperties, Type } from 'typebox';

export type PageApp = Parameters<FastifyPluginAsyncTypebox>[0];

/** A form field as text, whether or not the form passed validation (for return_to, tokens, values to refill). */
export function formText(request: FastifyRequest, name: string): string | undefined {
  const body = request.body as Record<string, unknown> | undefined | null;
  const value = body?.[name];
  return typeof value === 'string' ? value : undefined;
}

export const ReturnTo = Type.Optional(Type.String({ maxLength: 2048 }));
export const CsrfField = Type.String({ minLength: 1, maxLength: 128 });

/**
 * A page form's route options: the same schema as its API twin validates it, but a failure
 * reaches the handler (attachValidation), which shows it on the form instead of answering JSON.
 */
export function formRoute<P extends TProperties>(
  properties: P,
  onRequest: onRequestHookHandler[] = [],
  preValidation: preValidationHookHandler[] = [],
) {
  return {
    schema: { hide: true, body: Type.Object(properties) as TObject<P> },
    attachValidation: true,
    onRequest,
    preValidation,
  };
}

/**
 * A form field that carries JSON (a passkey's answer, put there by the page's script) is
 * parsed before validation, so the API's schema for it checks it; text that is not JSON stays
 * text and fails that schema.
 */
export const jsonField =
  (name: string): preValidationHookHandler =>
  (request, _reply, done) => {
    const body = request.body as Record<string, unknown> | undefined | null;
    const value = body?.[name];
    if (body && typeof value === 'string') {
      try {
        body[name] = JSON.parse(value);
      } catch {
        // Left as text: the schema refuses it.
      }
    }
    done();
  };
