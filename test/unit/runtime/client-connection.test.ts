/**
 * The identities a client connection starts with, which its ACL checks use: its address
 * as `ip`, and on a TLS client port the verified certificate's CN as `x509`.
 */
import { describe, expect, it } from 'vitest'
import type {
  ClientSocket,
  VerifiedClientCertificate,
} from '../../../server/net/client-listener.js'
import { ClientConnection } from '../../../server/runtime/client-connection.js'

function socket(certificate?: VerifiedClientCertificate): ClientSocket {
  return {
    id: 1,
    remoteAddress: '10.0.0.7',
    ...(certificate === undefined ? {} : { certificate }),
    send: () => {},
    close: () => {},
    pause: () => {},
    resume: () => {},
    bufferedBytes: () => 0,
    onDrained: () => {},
  }
}

describe('ClientConnection identities', () => {
  it('holds the address as ip, and no x509 without a verified certificate', () => {
    expect(new ClientConnection(socket(), () => 0).identities).toEqual([
      { scheme: 'ip', id: '10.0.0.7' },
    ])
  })

  it('holds the verified certificate CN as x509', () => {
    const connection = new ClientConnection(
      socket({ commonName: 'billing', subject: 'CN=billing,O=Acme', fingerprint256: 'AA:BB' }),
      () => 0,
    )
    expect(connection.identities).toEqual([
      { scheme: 'ip', id: '10.0.0.7' },
      { scheme: 'x509', id: 'billing' },
    ])
  })

  it('adds no x509 identity for a certificate without a CN', () => {
    const connection = new ClientConnection(
      socket({ commonName: '', subject: 'O=Acme', fingerprint256: 'AA:BB' }),
      () => 0,
    )
    expect(connection.identities.map((id) => id.scheme)).toEqual(['ip'])
  })
})
