/*
 * Goal: the web console shows a node's data, Stat and ACL faithfully — text as UTF-8,
 * JSON pretty-printed (or why it is not JSON, with the text kept), a hex dump with
 * offsets and printable ASCII, bounded; zxids in hex, ZooKeeper's cdrwa letters.
 * Method: the pure formatting functions on hand-made values.
 */
import { describe, expect, it } from 'vitest'
import { Perm, type Stat } from '../../../client/index.js'
import {
  HEX_BYTES_MAX,
  aclRows,
  childPath,
  formatData,
  hexDump,
  permsText,
  statRows,
} from '../../../ui/node-view.js'

const bytes = (text: string) => new TextEncoder().encode(text)

describe('data views', () => {
  it('shows text as UTF-8', () => {
    expect(formatData(bytes('héllo ✓'), 'text')).toBe('héllo ✓')
  })

  it('pretty-prints JSON, and says why data is not JSON while keeping its text', () => {
    expect(formatData(bytes('{"a":[1,2],"b":"x"}'), 'json')).toBe(
      '{\n  "a": [\n    1,\n    2\n  ],\n  "b": "x"\n}',
    )
    const notJson = formatData(bytes('plain words'), 'json')
    expect(notJson).toMatch(/^\(not JSON: .+\)\n\nplain words$/)
    expect(formatData(new Uint8Array(), 'json')).toBe('(no data)')
  })

  it('dumps hex 16 bytes a line with offsets and printable ASCII', () => {
    const data = new Uint8Array([...bytes('0123456789abcdef'), 0x00, 0xff, 0x41])
    expect(hexDump(data).split('\n')).toEqual([
      '00000000  30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66  0123456789abcdef',
      `00000010  ${'00 ff 41'.padEnd(47)}  ..A`,
    ])
    expect(formatData(new Uint8Array(), 'hex')).toBe('(no data)')
  })

  it('bounds the hex dump and says how much it left out', () => {
    const lines = hexDump(new Uint8Array(HEX_BYTES_MAX + 100)).split('\n')
    expect(lines).toHaveLength(HEX_BYTES_MAX / 16 + 1)
    expect(lines.at(-1)).toBe('… 100 more bytes not shown')
  })
})

describe('Stat and ACL', () => {
  it('lists every Stat field, zxids and the owner in hex', () => {
    const stat: Stat = {
      czxid: 0x100000003n,
      mzxid: 0x200000001n,
      pzxid: 0x100000003n,
      ctime: 0,
      mtime: Date.UTC(2026, 0, 2, 3, 4, 5),
      version: 7,
      cversion: 1,
      aversion: 2,
      ephemeralOwner: 0x1000000000000abn,
      dataLength: 12,
      numChildren: 3,
    }
    const rows = Object.fromEntries(statRows(stat))
    expect(Object.keys(rows)).toEqual([
      'czxid',
      'mzxid',
      'pzxid',
      'ctime',
      'mtime',
      'version',
      'cversion',
      'aversion',
      'ephemeralOwner',
      'dataLength',
      'numChildren',
    ])
    expect(rows.czxid).toBe('0x1_00000003')
    expect(rows.mzxid).toBe('0x2_00000001')
    expect(rows.mtime).toBe('2026-01-02T03:04:05.000Z (1767323045000)')
    expect(rows.ephemeralOwner).toBe('0x1000000000000ab')
    expect(Object.fromEntries(statRows({ ...stat, ephemeralOwner: 0n })).ephemeralOwner).toBe(
      '0 (persistent)',
    )
  })

  it("writes permissions with ZooKeeper's cdrwa letters", () => {
    expect(permsText(Perm.ALL)).toBe('cdrwa')
    expect(permsText(Perm.READ)).toBe('--r--')
    expect(permsText(Perm.CREATE | Perm.ADMIN)).toBe('c---a')
    expect(permsText(0)).toBe('-----')
    expect(
      aclRows([
        { scheme: 'world', id: 'anyone', perms: Perm.READ },
        { scheme: 'digest', id: 'alice:abc=', perms: Perm.ALL },
      ]),
    ).toEqual([
      ['world:anyone', '--r--'],
      ['digest:alice:abc=', 'cdrwa'],
    ])
  })

  it('joins child paths under the root and deeper', () => {
    expect(childPath('/', 'a')).toBe('/a')
    expect(childPath('/a', 'b')).toBe('/a/b')
  })
})
