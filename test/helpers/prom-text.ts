/**
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests
 * of GET /metrics. It reads the text token by token and throws on the first line that
 * is not a well-formed `# HELP`, `# TYPE` or sample line (other comments included), and
 * on what a scraper would take badly: a sample before its family's TYPE or of no typed
 * family, a family declared twice or split by another, a series given twice, and a
 * histogram whose buckets are not cumulative, lack +Inf, or disagree with `_count`.
 */

/** PromType is a family's declared type. */
export type PromType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

/** PromSample is one sample line. */
export interface PromSample {
  name: string
  labels: Record<string, string>
  value: number
}

/** PromFamily is one metric family: its TYPE, its HELP (if any) and its samples in order. */
export interface PromFamily {
  name: string
  type: PromType
  help: string | undefined
  samples: PromSample[]
}

const TYPES: readonly PromType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped']

/** PromParseError says which line is wrong and why. */
export class PromParseError extends Error {
  constructor(lineNumber: number, line: string, problem: string) {
    super(`line ${lineNumber}: ${problem}: ${JSON.stringify(line)}`)
    this.name = 'PromParseError'
  }
}

/** parsePromText parses a whole exposition into its families by name; throws PromParseError. */
export function parsePromText(text: string): Map<string, PromFamily> {
  const families = new Map<string, PromFamily>()
  const helps = new Map<string, string>()
  const series = new Set<string>()
  let current: PromFamily | undefined
  const closed = new Set<string>()
  const lines = text.split('\n')
  if (lines.at(-1) === '') lines.pop()
  else
    throw new PromParseError(lines.length, lines.at(-1) ?? '', 'the text must end with a newline')
  lines.forEach((line, index) => {
    const n = index + 1
    const fail = (problem: string): never => {
      throw new PromParseError(n, line, problem)
    }
    if (line.trim() === '') return
    const cursor = new Cursor(line, fail)
    if (line.startsWith('#')) {
      cursor.expect('#')
      cursor.spaces(1)
      const keyword = cursor.word()
      if (keyword !== 'HELP' && keyword !== 'TYPE') fail('only HELP and TYPE comments are allowed')
      cursor.spaces(1)
      const name = cursor.metricName()
      if (keyword === 'HELP') {
        if (helps.has(name)) fail(`second HELP for ${name}`)
        helps.set(name, cursor.atEnd() ? '' : (cursor.spaces(1), cursor.helpText()))
        const family = families.get(name)
        if (family !== undefined) family.help = helps.get(name)
        return
      }
      cursor.spaces(1)
      const type = cursor.word() as PromType
      if (!TYPES.includes(type)) fail(`unknown type ${type}`)
      cursor.end()
      if (families.has(name)) fail(`second TYPE for ${name}`)
      if (current !== undefined) closed.add(current.name)
      current = { name, type, help: helps.get(name), samples: [] }
      families.set(name, current)
      return
    }
    const name = cursor.metricName()
    const labels = cursor.peek() === '{' ? cursor.labels() : {}
    cursor.spaces(1)
    const value = cursor.value()
    if (!cursor.atEnd()) {
      cursor.spaces(1)
      cursor.timestamp()
    }
    cursor.end()
    const family = familyOf(name, families)
    if (family === undefined)
      return fail(`sample ${name} belongs to no family declared with TYPE before it`)
    if (family !== current || closed.has(family.name))
      return fail(`sample of ${family.name} outside its family's block`)
    const key = `${name}{${Object.entries(labels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
      .join(',')}}`
    if (series.has(key)) fail(`series ${key} given twice`)
    series.add(key)
    family.samples.push({ name, labels, value })
  })
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family)
  return families
}

/** familyOf finds the declared family a sample name belongs to (histogram and summary suffixes included). */
function familyOf(name: string, families: Map<string, PromFamily>): PromFamily | undefined {
  const exact = families.get(name)
  if (exact !== undefined && exact.type !== 'histogram') return exact
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!name.endsWith(suffix)) continue
    const family = families.get(name.slice(0, -suffix.length))
    if (family?.type === 'histogram' || (family?.type === 'summary' && suffix !== '_bucket'))
      return family
  }
  return undefined
}

/** checkHistogram checks each series of a histogram: ascending `le`, cumulative counts, +Inf equal to `_count`, a `_sum`. */
function checkHistogram(family: PromFamily): void {
  const groups = new Map<string, { buckets: [number, number][]; count?: number; sum?: number }>()
  for (const sample of family.samples) {
    const { le, ...rest } = sample.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const group = groups.get(key) ?? { buckets: [] }
    groups.set(key, group)
    if (sample.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: a bucket without le`)
      group.buckets.push([parseFloatStrict(le), sample.value])
    } else if (sample.name.endsWith('_count')) group.count = sample.value
    else group.sum = sample.value
  }
  for (const [key, group] of groups) {
    const where = `${family.name}${key}`
    if (group.count === undefined || group.sum === undefined)
      throw new Error(`${where}: _count or _sum missing`)
    const last = group.buckets.at(-1)
    if (last === undefined || last[0] !== Infinity) throw new Error(`${where}: no +Inf bucket last`)
    if (last[1] !== group.count)
      throw new Error(`${where}: +Inf bucket ${last[1]} != _count ${group.count}`)
    for (let i = 1; i < group.buckets.length; i++) {
      const [le, count] = group.buckets[i]!
      const [prevLe, prevCount] = group.buckets[i - 1]!
      if (!(le > prevLe)) throw new Error(`${where}: le ${le} does not ascend`)
      if (count < prevCount) throw new Error(`${where}: bucket le=${le} is not cumulative`)
    }
  }
}

/** parseFloatStrict parses a Prometheus float (NaN, +Inf, -Inf, or a Go float literal); throws otherwise. */
function parseFloatStrict(text: string): number {
  if (text === 'NaN') return NaN
  if (text === '+Inf' || text === 'Inf') return Infinity
  if (text === '-Inf') return -Infinity
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`not a float: ${text}`)
  return Number(text)
}

/** Cursor walks one line. */
class Cursor {
  private at = 0

  constructor(
    private readonly line: string,
    private readonly fail: (problem: string) => never,
  ) {}

  peek(): string | undefined {
    return this.line[this.at]
  }

  atEnd(): boolean {
    return this.at >= this.line.length
  }

  end(): void {
    if (!this.atEnd()) this.fail(`unexpected ${JSON.stringify(this.line.slice(this.at))}`)
  }

  expect(char: string): void {
    if (this.line[this.at] !== char) this.fail(`expected ${JSON.stringify(char)} at ${this.at}`)
    this.at++
  }

  /** spaces takes at least `min` blanks (spaces or tabs). */
  spaces(min: number): void {
    const start = this.at
    while (this.line[this.at] === ' ' || this.line[this.at] === '\t') this.at++
    if (this.at - start < min) this.fail(`expected a blank at ${start}`)
  }

  word(): string {
    return this.take(/[^ \t]/)
  }

  metricName(): string {
    const name = this.take(/[a-zA-Z0-9_:]/)
    if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(name))
      this.fail(`bad metric name ${JSON.stringify(name)}`)
    return name
  }

  /** labels reads `{name="value",...}` (a trailing comma allowed), checking escapes and duplicates. */
  labels(): Record<string, string> {
    const labels: Record<string, string> = {}
    this.expect('{')
    while (this.peek() !== '}') {
      const name = this.take(/[a-zA-Z0-9_]/)
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(name))
        this.fail(`bad label name ${JSON.stringify(name)}`)
      if (name in labels) this.fail(`label ${name} given twice`)
      this.expect('=')
      labels[name] = this.quoted()
      if (this.peek() === ',') this.at++
      else if (this.peek() !== '}') this.fail(`expected , or } at ${this.at}`)
    }
    this.expect('}')
    return labels
  }

  value(): number {
    const text = this.word()
    try {
      return parseFloatStrict(text)
    } catch {
      return this.fail(`bad value ${JSON.stringify(text)}`)
    }
  }

  timestamp(): void {
    if (!/^-?\d+$/.test(this.word())) this.fail('bad timestamp')
  }

  /** helpText reads the rest of a HELP line, whose only escapes are \\ and \n. */
  helpText(): string {
    let text = ''
    while (!this.atEnd()) {
      const c = this.line[this.at++]!
      if (c !== '\\') text += c
      else {
        const next = this.line[this.at++]
        if (next === '\\') text += '\\'
        else if (next === 'n') text += '\n'
        else this.fail('bad escape in HELP')
      }
    }
    return text
  }

  private quoted(): string {
    this.expect('"')
    let text = ''
    for (;;) {
      if (this.atEnd()) this.fail('unterminated label value')
      const c = this.line[this.at++]!
      if (c === '"') return text
      if (c !== '\\') text += c
      else {
        const next = this.line[this.at++]
        if (next === '\\' || next === '"') text += next
        else if (next === 'n') text += '\n'
        else this.fail('bad escape in a label value')
      }
    }
  }

  private take(allowed: RegExp): string {
    const start = this.at
    while (!this.atEnd() && allowed.test(this.line[this.at]!)) this.at++
    if (this.at === start) this.fail(`expected a token at ${start}`)
    return this.line.slice(start, this.at)
  }
}

/** sampleValue is the value of the one sample named `name` whose labels include `labels`; throws if none or several. */
export function sampleValue(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const matches = samplesOf(families, name, labels)
  if (matches.length !== 1)
    throw new Error(`${matches.length} samples of ${name} ${JSON.stringify(labels)}`)
  return matches[0]!.value
}

/** sumOf adds up the samples of `name` whose labels include `labels` (0 when none). */
export function sumOf(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  return samplesOf(families, name, labels).reduce((sum, s) => sum + s.value, 0)
}

/** samplesOf lists the samples named `name` whose labels include `labels`. */
export function samplesOf(
  families: Map<string, PromFamily>,
  name: string,
  labels: Record<string, string> = {},
): PromSample[] {
  return [...families.values()]
    .flatMap((family) => family.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
}
