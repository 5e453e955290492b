/** The benchmark chart: one bar per ratio, its label above it, the target as a dashed line. */
export interface ChartRow {
  scenario: string;
  baseline: string;
  /** Throughput against the baseline's. */
  ratio: number;
  /** CPU per request against the baseline's, where both have it: what the target is judged on. */
  cpuRatio?: number;
  target?: string;
  met?: boolean;
}

export function chart(rows: readonly ChartRow[], rounds: number): string {
  const ratioRows = rows.filter((r) => r.baseline !== 'p99 target');
  const width = 760;
  const bar = 22;
  const rowHeight = bar + 30;
  const left = 10;
  const scale = (width - left - 60) / 1.2;
  const height = 40 + ratioRows.length * rowHeight + 24;
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="${width}" height="${height}" fill="#fff"/>`,
    `<text x="10" y="22" font-size="15" font-weight="bold">Tessera vs baseline (ratio of CPU per request, else of requests per second; median of ${rounds} rounds)</text>`,
  ];
  ratioRows.forEach((row, i) => {
    const y = 40 + i * rowHeight;
    const ratio = row.cpuRatio ?? row.ratio;
    const w = Math.max(1, Math.min(ratio, 1.2) * scale);
    const colour = row.met === false ? '#c0392b' : row.met ? '#27ae60' : '#7f8c8d';
    parts.push(
      `<text x="${left}" y="${y + 13}">${row.scenario} (vs ${row.baseline})${row.target ? `, target ${row.target}` : ''}</text>`,
    );
    parts.push(`<rect x="${left}" y="${y + 18}" width="${w.toFixed(1)}" height="${bar}" fill="${colour}"/>`);
    parts.push(
      `<text x="${left + w + 6}" y="${y + 34}">${ratio.toFixed(2)}${row.cpuRatio === undefined ? ' (throughput)' : ''}</text>`,
    );
    const target = row.target ? Number(row.target.replace(/[^\d.]/g, '')) : undefined;
    if (target !== undefined) {
      const x = left + target * scale;
      parts.push(
        `<line x1="${x}" x2="${x}" y1="${y + 15}" y2="${y + 18 + bar + 3}" stroke="#000" stroke-dasharray="4 2"/>`,
      );
    }
  });
  const one = left + scale;
  parts.push(`<line x1="${one}" x2="${one}" y1="32" y2="${height - 20}" stroke="#999"/>`);
  parts.push(`<text x="${one - 8}" y="${height - 6}">1.0</text>`);
  parts.push('</svg>');
  return parts.join('\n');
}
