/*
 * Goal: the origins allowed to read a member's /status from a console page are exactly
 * the members' own `scheme://host:clientPort`, with the other loopback names for a
 * member on a loopback address, and IPv6 hosts in brackets as browsers write them.
 */
import { expect, it } from 'vitest'
import { memberOrigins } from '../../../server/runtime/member-origins.js'

it('lists each member by its advertised host, and loopback members under every loopback name', () => {
  const origins = memberOrigins(
    [
      { id: 1, host: 'zk1.example', clientPort: 2281, peerPort: 2381 },
      { id: 2, host: '127.0.0.1', clientPort: 2282, peerPort: 2382 },
      { id: 3, host: 'fd00::3', clientPort: 2283, peerPort: 2383 },
    ],
    false,
  )
  expect(origins.sort()).toEqual(
    [
      'http://zk1.example:2281',
      'http://127.0.0.1:2282',
      'http://localhost:2282',
      'http://[::1]:2282',
      'http://[fd00::3]:2283',
    ].sort(),
  )
})

it('uses https with clientTls, and lists nothing for a standalone server', () => {
  expect(memberOrigins([{ id: 1, host: 'a', clientPort: 1, peerPort: 2 }], true)).toEqual([
    'https://a:1',
  ])
  expect(memberOrigins([], false)).toEqual([])
})
