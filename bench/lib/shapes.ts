/**
 * Load shapes of the ensemble benchmark: an op and how many clients drive it with how
 * many requests in flight each, written `op@CLIENTSxIN_FLIGHT` (e.g. `set@32x4`). Each
 * shape is one row of the results table.
 */

/** ShapeOp is what each request does; `mix` picks get (90%) or set (10%) per request. */
export type ShapeOp = 'set' | 'create' | 'get' | 'mix'

const OPS: readonly ShapeOp[] = ['set', 'create', 'get', 'mix']

/** Shape is one load: `clients` sessions, each with `inFlight` requests outstanding. */
export interface Shape {
  /** name is how the shape is written on the command line and in the table: `op@CxF`. */
  readonly name: string
  readonly op: ShapeOp
  readonly clients: number
  readonly inFlight: number
}

/** DEFAULT_SHAPES is the full list `npm run bench` measures when no --shapes is given. */
export const DEFAULT_SHAPES =
  'set@32x4,get@32x4,mix@32x4,set@64x8,set@1x1,get@1x1,create@32x4' as const

/**
 * parseShapes reads a comma-separated list of shapes. A bare op (`set`) takes
 * `defaultClients` x `defaultInFlight`. Throws on an unknown op, a count that is not a
 * positive integer, or a shape named twice.
 */
export function parseShapes(list: string, defaultClients = 32, defaultInFlight = 4): Shape[] {
  const shapes: Shape[] = []
  for (const item of list.split(',').map((s) => s.trim())) {
    if (item === '') continue
    const match = /^([a-z]+)(?:@(\d+)x(\d+))?$/.exec(item)
    const op = match?.[1] as ShapeOp | undefined
    if (match === null || op === undefined || !OPS.includes(op))
      throw new Error(
        `bad shape ${item}: expected op@CLIENTSxIN_FLIGHT, op one of ${OPS.join(', ')}`,
      )
    const clients = match[2] === undefined ? defaultClients : Number(match[2])
    const inFlight = match[3] === undefined ? defaultInFlight : Number(match[3])
    if (!Number.isInteger(clients) || clients <= 0 || !Number.isInteger(inFlight) || inFlight <= 0)
      throw new Error(`bad shape ${item}: clients and in-flight must be positive integers`)
    const name = `${op}@${clients}x${inFlight}`
    if (shapes.some((s) => s.name === name)) throw new Error(`shape ${name} named twice`)
    shapes.push({ name, op, clients, inFlight })
  }
  if (shapes.length === 0) throw new Error('no shapes to run')
  return shapes
}

/** usesKeys tells whether a shape's requests go to the pre-created keys (all but create). */
export function usesKeys(shape: Shape): boolean {
  return shape.op !== 'create'
}

/** keyOf is the pre-created key that slot `slot` of client `client` reads and writes. */
export function keyOf(client: number, slot: number): string {
  return `/bench/c${client}-${slot}`
}

/** keysNeeded lists every key some shape uses, each once, so they can be created up front. */
export function keysNeeded(shapes: readonly Shape[]): string[] {
  const keys = new Set<string>()
  for (const shape of shapes.filter(usesKeys))
    for (let c = 0; c < shape.clients; c++)
      for (let s = 0; s < shape.inFlight; s++) keys.add(keyOf(c, s))
  return [...keys]
}

/** clientsNeeded is the largest client count of any shape: that many sessions are connected per system. */
export function clientsNeeded(shapes: readonly Shape[]): number {
  return Math.max(...shapes.map((s) => s.clients))
}
