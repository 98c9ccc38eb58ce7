/*
 * Goal: the TLS and admin settings refuse what cannot work with one line naming the
 * setting (TLS without files, peerTls without a CA or an ensemble, client
 * certificates without clientTls or a CA, token access without a token file), and
 * default to everything off and /status open.
 */
import { expect, it } from 'vitest'
import { ConfigError, resolveConfig } from '../../../server/runtime/config.js'

const members = [
  { id: 1, host: '127.0.0.1', clientPort: 2281, peerPort: 2381 },
  { id: 2, host: '127.0.0.1', clientPort: 2282, peerPort: 2382 },
]
const base = { dataDir: '/data' }
const ensemble = { ...base, members, secretFile: '/secret' }
const files = { tlsCertFile: '/c.crt', tlsKeyFile: '/c.key' }

it('defaults to no TLS and open admin endpoints', () => {
  const c = resolveConfig(base)
  expect(c.tls).toMatchObject({ clientTls: false, peerTls: false, clientCertAuth: 'none' })
  expect(c.admin).toEqual({ access: 'open', tokenFile: undefined })
})

it('accepts a complete TLS setup', () => {
  const c = resolveConfig({
    ...ensemble,
    ...files,
    clientTls: true,
    peerTls: 'true',
    clientCertAuth: 'require',
    tlsCaFile: '/ca.crt',
  })
  expect(c.tls).toMatchObject({ clientTls: true, peerTls: true, caFile: '/ca.crt' })
})

it.each([
  [{ ...base, clientTls: true }, /tlsCertFile/],
  [{ ...ensemble, ...files, peerTls: true }, /tlsCaFile/],
  [{ ...base, ...files, peerTls: true, tlsCaFile: '/ca' }, /peerTls.*ensemble/],
  [{ ...base, ...files, clientCertAuth: 'require', tlsCaFile: '/ca' }, /clientTls/],
  [{ ...base, ...files, clientTls: true, clientCertAuth: 'request' }, /clientCaFile/],
  [{ ...base, clientCertAuth: 'sometimes' }, /clientCertAuth/],
  [{ ...base, clientTls: 'yes' }, /clientTls/],
  [{ ...base, tlsReloadCheckMs: 1 }, /tlsReloadCheckMs/],
  [{ ...base, adminAccess: 'token' }, /adminTokenFile/],
  [{ ...base, adminAccess: 'everyone' }, /adminAccess/],
])('refuses %j naming the setting', (raw, message) => {
  expect(() => resolveConfig(raw)).toThrow(ConfigError)
  expect(() => resolveConfig(raw)).toThrow(message)
})
