/**
 * Test certificates made with the `openssl` command: a CA, and leaf certificates it
 * signs (SAN IP:127.0.0.1, usable as server and client certificates, as members are
 * both on the peer port). EC P-256 keys keep generation fast.
 */
import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const OPENSSL = '/usr/bin/openssl'

/** CertFiles are the PEM files of one certificate. */
export interface CertFiles {
  certFile: string
  keyFile: string
}

function openssl(args: string[]): void {
  execFileSync(OPENSSL, args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** makeCa creates a self-signed CA named `name` in `dir`. */
export function makeCa(dir: string, name: string): CertFiles {
  const certFile = join(dir, `${name}.crt`)
  const keyFile = join(dir, `${name}.key`)
  openssl([
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    certFile,
    '-days',
    '2',
    '-subj',
    `/CN=${name}`,
  ])
  return { certFile, keyFile }
}

/** makeLeaf creates a certificate for CN `commonName` signed by `ca`, written as `<fileName>.crt/.key` in `dir`. */
export function makeLeaf(
  dir: string,
  ca: CertFiles,
  fileName: string,
  commonName: string,
): CertFiles {
  const certFile = join(dir, `${fileName}.crt`)
  const keyFile = join(dir, `${fileName}.key`)
  const csrFile = join(dir, `${fileName}.csr`)
  const extFile = join(dir, `${fileName}.ext`)
  writeFileSync(extFile, 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n')
  openssl([
    'req',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-keyout',
    keyFile,
    '-out',
    csrFile,
    '-subj',
    `/O=conclave-test/CN=${commonName}`,
  ])
  openssl([
    'x509',
    '-req',
    '-in',
    csrFile,
    '-CA',
    ca.certFile,
    '-CAkey',
    ca.keyFile,
    '-set_serial',
    `0x${randomBytes(8).toString('hex')}`,
    '-days',
    '2',
    '-extfile',
    extFile,
    '-out',
    certFile,
  ])
  return { certFile, keyFile }
}
