/**
 * Rendering mail from templates: the built-in ones, each part replaceable by an operator's file.
 * Templates are read and parsed once at start, so a broken one stops the start, not a send.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Mustache from 'mustache';
import { escapeHtml } from '../escape-html.js';
import { DEFAULT_TEMPLATES, type MailTemplate, TEMPLATE_NAMES, type TemplateName } from './default-templates.js';

export type { TemplateName } from './default-templates.js';

export interface RenderedMail {
  to: string;
  subject: string;
  text: string;
  html: string;
}

export type MailValues = Readonly<Record<string, string>>;

export interface MailRenderer {
  render(name: TemplateName, to: string, values: MailValues): RenderedMail;
}

const PARTS = { subject: 'subject.txt', text: 'txt', html: 'html' } as const;
const asIs = (value: unknown) => String(value);

export function createMailRenderer(templatesDir: string | undefined, product = 'Tessera'): MailRenderer {
  const templates = new Map<TemplateName, MailTemplate>();
  for (const name of TEMPLATE_NAMES) {
    const template = { ...DEFAULT_TEMPLATES[name] };
    if (templatesDir !== undefined) {
      for (const [part, extension] of Object.entries(PARTS) as [keyof MailTemplate, string][]) {
        const file = join(templatesDir, `${name}.${extension}`);
        if (existsSync(file)) template[part] = readFileSync(file, 'utf8');
      }
    }
    // Parse now: a template an operator broke fails the start with its name.
    for (const part of Object.keys(PARTS) as (keyof MailTemplate)[]) {
      try {
        Mustache.parse(template[part]);
      } catch (error) {
        throw new Error(`Mail template ${name} (${part}) does not parse: ${(error as Error).message}`);
      }
    }
    templates.set(name, template);
  }
  return {
    render(name, to, values) {
      const template = templates.get(name) ?? DEFAULT_TEMPLATES[name];
      const view = { product, ...values };
      return {
        to,
        // A header is one line, whatever a value holds.
        subject: Mustache.render(template.subject, view, {}, { escape: asIs })
          .replace(/[\r\n]+/g, ' ')
          .trim(),
        text: Mustache.render(template.text, view, {}, { escape: asIs }),
        html: Mustache.render(template.html, view, {}, { escape: escapeHtml }),
      };
    },
  };
}
