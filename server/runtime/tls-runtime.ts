/**
 * The TLS material of a running member: loaded at start when either port speaks TLS,
 * then reloaded on SIGHUP and when the files change, so certificates rotate without a
 * restart (new connections use the new ones; open ones keep theirs).
 */
import type { Logger } from 'pino'
import { TlsMaterial } from '../net/tls-material.js'
import type { TlsSettings } from './tls-config.js'

/** MemberTls is the loaded material and how to stop watching for rotations. */
export interface MemberTls {
  material: TlsMaterial
  /** stop removes the SIGHUP handler and stops polling the files. */
  stop(): void
}

/** startMemberTls loads the files (throws TlsError if unusable), or returns undefined when TLS is off. */
export async function startMemberTls(
  settings: TlsSettings,
  logger: Logger,
): Promise<MemberTls | undefined> {
  if (!settings.clientTls && !settings.peerTls) return undefined
  const material = await TlsMaterial.load(
    {
      // resolveTlsSettings refuses TLS without both files.
      certFile: settings.certFile!,
      keyFile: settings.keyFile!,
      caFile: settings.caFile,
      clientCaFile: settings.clientCaFile,
    },
    logger,
  )
  material.watch(settings.reloadCheckMs)
  const onHangup = () => void material.reload('SIGHUP')
  process.on('SIGHUP', onHangup)
  return {
    material,
    stop: () => {
      process.off('SIGHUP', onHangup)
      material.close()
    },
  }
}
