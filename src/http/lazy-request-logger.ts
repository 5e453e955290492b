/**
 * Request loggers made on first use. Fastify gives every request a child logger bound to its
 * reqId, but at info and above a request logs nothing unless it fails, and with our wildcard
 * redaction pino's child() cost ~1.5 µs and 2 KB of garbage a request, profiled (a twelfth of
 * everything a refresh allocated). This one makes the real child, with the same bindings and
 * options (so the same redaction), the first time the request logs.
 *
 * The children are always the server logger's, whatever parent Fastify passes: its silent logger
 * when it holds none (at info and above, src/app.ts), or its own child of ours when it logs
 * each request.
 */
import type { FastifyBaseLogger, FastifyServerOptions } from 'fastify';
import type { Bindings, ChildLoggerOptions } from 'pino';

class LazyChildLogger implements FastifyBaseLogger {
  #child: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions,
  ) {}

  private get made(): FastifyBaseLogger {
    this.#child ??= this.parent.child(this.bindings, this.options);
    return this.#child;
  }

  get level(): string {
    return this.#child?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.made.level = level;
  }

  fatal(...args: unknown[]): void {
    Reflect.apply(this.made.fatal, this.made, args);
  }

  error(...args: unknown[]): void {
    Reflect.apply(this.made.error, this.made, args);
  }

  warn(...args: unknown[]): void {
    Reflect.apply(this.made.warn, this.made, args);
  }

  info(...args: unknown[]): void {
    Reflect.apply(this.made.info, this.made, args);
  }

  debug(...args: unknown[]): void {
    Reflect.apply(this.made.debug, this.made, args);
  }

  trace(...args: unknown[]): void {
    Reflect.apply(this.made.trace, this.made, args);
  }

  silent(...args: unknown[]): void {
    Reflect.apply(this.made.silent, this.made, args);
  }

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.made.child(bindings, options);
  }
}

export const lazyRequestLoggers =
  (logger: FastifyBaseLogger): NonNullable<FastifyServerOptions['childLoggerFactory']> =>
  (_fastifys, bindings, options) =>
    new LazyChildLogger(logger, bindings, options);
