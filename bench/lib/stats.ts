/**
 * Small statistics and formatting helpers for the benchmarks: percentiles over a sorted
 * copy, medians, and fixed-width number formatting for the printed tables.
 */

/** percentile returns the q-quantile (0..1) of `values` by nearest rank, or NaN for none. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank]!
}

/** median is the middle value (the mean of the two middle values for an even count), or NaN for none. */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** maxOf is the largest value, or NaN for none. */
export function maxOf(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : Math.max(...values)
}

/** fixed formats a number with `digits` decimals, '-' for NaN. */
export function fixed(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '-'
}

/** thousands formats an integer with thousands separators, '-' for NaN. */
export function thousands(value: number): string {
  return Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : '-'
}

/** table renders rows as a Markdown table; the first row is the header; the first `leftColumns` columns are left-aligned, the rest right-aligned. */
export function table(rows: readonly (readonly string[])[], leftColumns = 1): string {
  const header = rows[0]!
  const widths = header.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)))
  const line = (r: readonly string[]) =>
    `| ${r.map((cell, c) => (c < leftColumns ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`
  const rule = `|${widths.map((w, c) => (c < leftColumns ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`
  return [line(header), rule, ...rows.slice(1).map(line)].join('\n')
}
