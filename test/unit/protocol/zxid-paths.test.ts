/**
 * zxid packing and ordering, and the path rules shared by client and server.
 */
import { describe, expect, it } from 'vitest'
import {
  baseName,
  counterOf,
  epochOf,
  formatZxid,
  isAncestorOrSelf,
  isValidPath,
  joinPath,
  makeZxid,
  parentOf,
  parseZxid,
  pathProblem,
  sequenceSuffix,
} from '../../../protocol/index.js'

describe('zxid', () => {
  it('packs epoch in the high half so comparison orders by epoch, then counter', () => {
    const a = makeZxid(1, 0xffff_ffff)
    const b = makeZxid(2, 0)
    expect(a < b).toBe(true)
    expect(epochOf(b)).toBe(2)
    expect(counterOf(a)).toBe(0xffff_ffff)
    expect(formatZxid(makeZxid(3, 10))).toBe('0x3_0000000a')
  })
  it('parses what formatZxid prints, 0x hex and decimal, and nothing else', () => {
    for (const zxid of [0n, makeZxid(3, 10), makeZxid(0xffff_ffff, 0xffff_ffff), makeZxid(1, 0)])
      expect(parseZxid(formatZxid(zxid))).toBe(zxid)
    expect(parseZxid('0x1_a')).toBe(makeZxid(1, 10))
    expect(parseZxid('0X1_0000000A')).toBe(makeZxid(1, 10))
    expect(parseZxid('0x10000000a')).toBe(makeZxid(1, 10))
    expect(parseZxid('4294967306')).toBe(makeZxid(1, 10))
    expect(parseZxid(' 0 ')).toBe(0n)
    expect(parseZxid('18446744073709551615')).toBe(0xffff_ffff_ffff_ffffn)
    for (const bad of [
      '',
      '-1',
      '1_a',
      '0x',
      '0x_1',
      '0x1_',
      '0x1_100000000', // counter beyond 32 bits
      '0x100000000_0', // epoch beyond 32 bits
      '0x10000000000000000', // beyond 64 bits
      '18446744073709551616',
      '1.5',
      '0xg',
      'zxid',
    ])
      expect(parseZxid(bad), bad).toBeUndefined()
  })
  it('refuses halves out of range', () => {
    expect(() => makeZxid(-1, 0)).toThrow(RangeError)
    expect(() => makeZxid(0, 2 ** 32)).toThrow(RangeError)
  })
})

describe('paths', () => {
  it('accepts ZooKeeper-valid paths', () => {
    for (const p of ['/', '/a', '/a/b', '/a-b_c.d', '/zookeeper', '/ü/日本', '/a..b', '/.a'])
      expect(isValidPath(p), p).toBe(true)
  })
  it('refuses invalid ones with a reason', () => {
    expect(pathProblem('')).toMatch(/empty/)
    expect(pathProblem('a')).toMatch(/start with/)
    expect(pathProblem('/a/')).toMatch(/end with/)
    expect(pathProblem('/a//b')).toMatch(/empty segment/)
    expect(pathProblem('/a/.')).toMatch(/\./)
    expect(pathProblem('/a/..')).toMatch(/\./)
    expect(pathProblem('/a\u0001')).toMatch(/invalid character/)
    expect(pathProblem('/a\u007f')).toMatch(/invalid character/)
    expect(pathProblem('/a\ufff0')).toMatch(/invalid character/)
    expect(pathProblem('/' + 'x'.repeat(4096))).toMatch(/longer/)
    expect(pathProblem(42)).toMatch(/string/)
  })
  it('lets sequential creates end in /', () => {
    expect(isValidPath('/q/', true)).toBe(true)
    expect(isValidPath('/q//', true)).toBe(false)
  })
  it('splits and joins', () => {
    expect(parentOf('/a/b/c')).toBe('/a/b')
    expect(parentOf('/a')).toBe('/')
    expect(baseName('/a/b')).toBe('b')
    expect(joinPath('/', 'a')).toBe('/a')
    expect(joinPath('/a', 'b')).toBe('/a/b')
    expect(isAncestorOrSelf('/a', '/a/b')).toBe(true)
    expect(isAncestorOrSelf('/a', '/ab')).toBe(false)
    expect(isAncestorOrSelf('/', '/x')).toBe(true)
  })
  it('renders sequence numbers with 10 digits', () => {
    expect(sequenceSuffix(0)).toBe('0000000000')
    expect(sequenceSuffix(42)).toBe('0000000042')
    expect(sequenceSuffix(2147483647)).toBe('2147483647')
  })
})
