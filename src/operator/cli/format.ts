/** Output for people: tables, colours on a terminal only (and never with NO_COLOR), a progress bar on stderr. */

const colourful = (stream: NodeJS.WriteStream): boolean => stream.isTTY === true && !('NO_COLOR' in process.env) && process.env.TERM !== 'dumb'

/** SGR codes by name. */
const CODES = { bold: 1, dim: 2, red: 31, green: 32, yellow: 33, cyan: 36 } as const

/** `text` in colour `name` when stdout is a terminal that takes colours. */
export function paint(name: keyof typeof CODES, text: string, stream: NodeJS.WriteStream = process.stdout): string {
  return colourful(stream) ? `\x1b[${CODES[name]}m${text}\x1b[0m` : text
}

/** One column of {@link table}: a heading and how to show a row's cell. */
export interface Column<T> {
  heading: string
  cell: (row: T) => string | number | null | undefined
  /** Right-aligned (numbers). */
  right?: boolean
}

/** A plain text table; cells lose control characters so that stored text cannot drive the terminal. */
export function table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  if (rows.length === 0) return paint('dim', '(none)')
  const cells = rows.map((r) => columns.map((c) => clean(c.cell(r))))
  const widths = columns.map((c, i) => Math.max(c.heading.length, ...cells.map((row) => row[i]!.length)))
  const line = (values: string[]): string =>
    values
      .map((v, i) => (columns[i]!.right ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd()
  return [paint('bold', line(columns.map((c) => c.heading))), ...cells.map(line)].join('\n')
}

/** Key: value lines. */
export function fields(pairs: readonly [string, string | number | null | undefined][]): string {
  const width = Math.max(...pairs.map(([k]) => k.length))
  return pairs.map(([k, v]) => `${paint('bold', k.padEnd(width))}  ${clean(v)}`).join('\n')
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g

/** A cell as one line of printable text. */
export function clean(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '-'
  return String(value).replace(CONTROL, (c) => (c === '\n' ? '⏎' : '�'))
}

/** A duration in ms as `850ms`, `12s`, `3m`, `5h`, `2d`. */
export function age(ms: number | null): string {
  if (ms === null) return '-'
  if (ms < 1000) return `${Math.round(ms)}ms`
  const s = ms / 1000
  if (s < 120) return `${Math.round(s)}s`
  if (s < 7200) return `${Math.round(s / 60)}m`
  if (s < 172_800) return `${Math.round(s / 3600)}h`
  return `${Math.round(s / 86_400)}d`
}

/** A time in ms since epoch as ISO text. */
export function when(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString()
}

/** Truncates long text for a table cell. */
export function short(text: string, max = 60): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

/** A progress bar on stderr, drawn only on a terminal and at most every 100 ms. */
export class Progress {
  readonly #label: string
  readonly #on = process.stderr.isTTY === true
  #drawn = 0

  /** @param label - what is in progress */
  constructor(label: string) {
    this.#label = label
  }

  /** `done` of `total` (or a count, without a total). */
  update(done: number, total?: number): void {
    if (!this.#on) return
    const now = Date.now()
    if (now - this.#drawn < 100 && (total === undefined || done < total)) return
    this.#drawn = now
    let text = `${this.#label} ${done}`
    if (total !== undefined && total > 0) {
      const f = Math.min(1, done / total)
      const width = 30
      const full = Math.round(f * width)
      text = `${this.#label} [${'#'.repeat(full)}${'.'.repeat(width - full)}] ${Math.floor(f * 100)}% ${done}/${total}`
    }
    process.stderr.write(`\r${text}\x1b[K`)
  }

  /** Clears the line. */
  done(): void {
    if (this.#on && this.#drawn > 0) process.stderr.write('\r\x1b[K')
  }
}
