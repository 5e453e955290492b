/** Accessible form parts: every input labelled, hints and errors tied to it, errors announced. */
import type { AppError, FieldProblem } from '../../errors.js';
import { type Html, html } from './html.js';
import type { PageStrings } from './strings.js';

export interface FieldSpec {
  name: string;
  label: string;
  type?: 'text' | 'email' | 'password';
  autocomplete: string;
  value?: string;
  hint?: string;
  minLength?: number;
  maxLength?: number;
  /** `numeric` for codes, so phones show digits. */
  inputMode?: 'numeric';
  optional?: boolean;
}

const attribute = (name: string, value: string | number | undefined) =>
  value === undefined ? html`` : html` ${name}="${String(value)}"`;

/** One labelled input; the first field with a problem takes the focus. */
export function field(spec: FieldSpec, strings: PageStrings, error: AppError | undefined): Html {
  const problems = error?.details?.filter((d) => d.field === spec.name) ?? [];
  const id = `field-${spec.name}`;
  const describedBy = [spec.hint ? `${id}-hint` : '', problems.length > 0 ? `${id}-error` : ''].filter(Boolean);
  const firstWithProblem = error?.details?.[0]?.field === spec.name;
  return html`<label for="${id}">${spec.label}</label>
${spec.hint ? html`<p class="hint" id="${id}-hint">${spec.hint}</p>` : html``}${
  problems.length > 0
    ? html`<p class="field-error" id="${id}-error">${problems.map((p) => html`${strings.problems[p.problem]} `)}</p>`
    : html``
}<input id="${id}" name="${spec.name}" type="${spec.type ?? 'text'}" autocomplete="${spec.autocomplete}"${attribute(
    'value',
    spec.type === 'password' ? undefined : spec.value,
  )}${attribute('minlength', spec.minLength)}${attribute('maxlength', spec.maxLength)}${attribute('inputmode', spec.inputMode)}${
    spec.optional ? html`` : html` required`
  }${describedBy.length > 0 ? html` aria-describedby="${describedBy.join(' ')}"` : html``}${
    problems.length > 0 ? html` aria-invalid="true"` : html``
  }${firstWithProblem ? html` autofocus` : html``}>
`;
}

export const hidden = (name: string, value: string | undefined): Html =>
  value === undefined ? html`` : html`<input type="hidden" name="${name}" value="${value}">`;

/** The error, announced to screen readers, with links to the fields that need fixing. */
export function errorSummary(
  strings: PageStrings,
  error: AppError | undefined,
  labels: Record<string, string> = {},
): Html {
  if (!error) return html``;
  const fields = (error.details ?? []).filter((d: FieldProblem) => labels[d.field] !== undefined);
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title">
<h2 id="error-summary-title">${strings.errorsTitle}</h2><p>${error.message}</p>${
    fields.length > 0
      ? html`<ul>${fields.map(
          (d) =>
            html`<li><a href="#field-${d.field}">${labels[d.field] ?? d.field}: ${strings.problems[d.problem]}</a></li>`,
        )}</ul>`
      : html``
  }</div>`;
}

export const notice = (text: string | undefined): Html =>
  text === undefined ? html`` : html`<p class="notice" role="status">${text}</p>`;
