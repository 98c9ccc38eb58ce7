/**
 * How the console shows a znode: its data as text, pretty JSON or a hex dump, its Stat
 * with zxids in hex and times as dates, its ACL with ZooKeeper's permission letters.
 * Pure functions of the SDK's values, so they are unit-tested without a browser.
 */
import { Perm, type Acl, type Stat } from '../client/index.js'
import { formatZxid } from '../protocol/zxid.js'

/** DataView names the ways the console shows a node's data. */
export type DataViewKind = 'text' | 'json' | 'hex'

/** HEX_BYTES_MAX bounds the hex dump: beyond it the dump says how much it left out. */
export const HEX_BYTES_MAX = 16 * 1024

/** formatData shows `data` as text, pretty-printed JSON (or why it is not JSON), or a hex dump. */
export function formatData(data: Uint8Array, kind: DataViewKind): string {
  if (kind === 'hex') return hexDump(data)
  const text = new TextDecoder().decode(data)
  if (kind === 'text') return text
  if (data.length === 0) return '(no data)'
  try {
    return JSON.stringify(JSON.parse(text), null, 2)
  } catch (err) {
    return `(not JSON: ${(err as Error).message})\n\n${text}`
  }
}

/** hexDump is 16 bytes a line: offset, hex bytes, and the printable ASCII. */
export function hexDump(data: Uint8Array): string {
  const lines: string[] = []
  const shown = Math.min(data.length, HEX_BYTES_MAX)
  for (let offset = 0; offset < shown; offset += 16) {
    const row = data.subarray(offset, Math.min(offset + 16, shown))
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ')
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.'))
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(47)}  ${ascii.join('')}`)
  }
  if (data.length > shown) lines.push(`… ${data.length - shown} more bytes not shown`)
  return lines.length === 0 ? '(no data)' : lines.join('\n')
}

/** formatZxid writes a zxid in Conclave's one format, `0x<epoch>_<counter>` (as the CLI and /status do). */
export { formatZxid }

/** formatSessionId writes a session id as ZooKeeper does: 0x and hex. */
export function formatSessionId(sessionId: bigint): string {
  return `0x${sessionId.toString(16)}`
}

/** statRows lists every Stat field with a readable value, in ZooKeeper's order. */
export function statRows(stat: Stat): [string, string][] {
  const time = (ms: number) => (ms === 0 ? '0' : `${new Date(ms).toISOString()} (${ms})`)
  return [
    ['czxid', formatZxid(stat.czxid)],
    ['mzxid', formatZxid(stat.mzxid)],
    ['pzxid', formatZxid(stat.pzxid)],
    ['ctime', time(stat.ctime)],
    ['mtime', time(stat.mtime)],
    ['version', String(stat.version)],
    ['cversion', String(stat.cversion)],
    ['aversion', String(stat.aversion)],
    [
      'ephemeralOwner',
      stat.ephemeralOwner === 0n ? '0 (persistent)' : formatSessionId(stat.ephemeralOwner),
    ],
    ['dataLength', String(stat.dataLength)],
    ['numChildren', String(stat.numChildren)],
  ]
}

/** PERM_LETTERS are ZooKeeper's letters for the permission bits, in its order (cdrwa). */
const PERM_LETTERS: [string, number][] = [
  ['c', Perm.CREATE],
  ['d', Perm.DELETE],
  ['r', Perm.READ],
  ['w', Perm.WRITE],
  ['a', Perm.ADMIN],
]

/** permsText writes permission bits as ZooKeeper's getAcl does: 'cdrwa', '-' for each bit missing. */
export function permsText(perms: number): string {
  return PERM_LETTERS.map(([letter, bit]) => ((perms & bit) !== 0 ? letter : '-')).join('')
}

/** aclRows lists an ACL as identity and permissions. */
export function aclRows(acl: readonly Acl[]): [string, string][] {
  return acl.map((entry) => [`${entry.scheme}:${entry.id}`, permsText(entry.perms)])
}

/** childPath joins a parent path and a child name. */
export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`
}
