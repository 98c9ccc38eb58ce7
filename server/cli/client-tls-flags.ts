/**
 * The TLS flags of the client-side commands (`conclave shell`, `conclave status`): the
 * CA to trust for wss:// and https:// servers, and a client certificate for servers
 * that ask for one. The same names as the server's flags, so one set of files serves.
 */
import { readFileSync } from 'node:fs'
import http from 'node:http'
import https from 'node:https'
import type { Argv } from 'yargs'
import type { TlsOptions } from '../../client/index.js'

/** ClientTlsFlags are the flags as yargs parses them. */
export interface ClientTlsFlags {
  'tls-ca-file'?: string
  'tls-cert-file'?: string
  'tls-key-file'?: string
}

/** withClientTlsFlags adds the flags to a command. */
export function withClientTlsFlags<T>(y: Argv<T>): Argv<T & ClientTlsFlags> {
  return y
    .option('tls-ca-file', {
      type: 'string',
      describe: 'CA certificate (PEM) to trust for wss:// servers',
    })
    .option('tls-cert-file', {
      type: 'string',
      describe: 'client certificate (PEM), for servers with clientCertAuth',
    })
    .option('tls-key-file', { type: 'string', describe: "the client certificate's key (PEM)" })
}

/** clientTlsOptions reads the files the flags name; undefined when none is given. Throws on an unreadable file. */
export function clientTlsOptions(flags: ClientTlsFlags): TlsOptions | undefined {
  const read = (path: string | undefined) => (path === undefined ? undefined : readFileSync(path))
  const options: TlsOptions = {}
  const ca = read(flags['tls-ca-file'])
  const cert = read(flags['tls-cert-file'])
  const key = read(flags['tls-key-file'])
  if (ca !== undefined) options.ca = ca
  if (cert !== undefined) options.cert = cert
  if (key !== undefined) options.key = key
  return Object.keys(options).length === 0 ? undefined : options
}

/** JsonReply is an HTTP status and its parsed JSON body (undefined if it was not JSON). */
export interface JsonReply {
  status: number
  body: unknown
}

/**
 * getJson GETs `url` (http: or https:, trusting `tls.ca` when given) with optional
 * extra headers. Node's https module, not fetch: fetch takes no CA.
 */
export function getJson(
  url: string,
  options: { tls?: TlsOptions | undefined; headers?: Record<string, string>; timeoutMs: number },
): Promise<JsonReply> {
  return new Promise((resolve, reject) => {
    const target = new URL(url)
    const onReply = (res: http.IncomingMessage) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => {
        let body: unknown
        try {
          body = JSON.parse(text)
        } catch {
          body = undefined
        }
        resolve({ status: res.statusCode ?? 0, body })
      })
    }
    const common = { headers: options.headers ?? {}, timeout: options.timeoutMs }
    const req =
      target.protocol === 'https:'
        ? https.get(target, { ...common, ...(options.tls as https.RequestOptions) }, onReply)
        : http.get(target, common, onReply)
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)))
    req.on('error', reject)
  })
}
