/** The five characters that matter in HTML text and quoted attributes; links stay readable. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
