/**
 * A configuration tree kept current: a tree cache mirrors `/examples/config`, prints it
 * once, then every change as it happens. Change the tree from another terminal with
 * `--set`, or with the shell:
 *
 *   npm run example:config
 *   npm run example:config -- --set db/url=postgres://db-2/app
 *   npx conclave shell -c "delete /examples/config/db/url"
 */
import { connect, treeCache } from 'conclave/client'
import { exampleArgs, say, shutdownSignal } from './shared.js'

const ROOT = '/examples/config'
const { servers, rest } = exampleArgs({ set: { type: 'string' } })
await using client = await connect({ servers, sessionTimeoutMs: 5000 })
const text = (data: Uint8Array) => new TextDecoder().decode(data)

if (typeof rest.set === 'string') {
  const [key = '', ...value] = rest.set.split('=')
  await client
    .set(`${ROOT}/${key}`, value.join('='))
    .catch(() => client.create(`${ROOT}/${key}`, value.join('='), { makeParents: true }))
} else {
  const shutdown = shutdownSignal()
  await using cache = treeCache(client, ROOT)
  await cache.start()
  for (const path of cache.paths()) say(`${path} = ${text(cache.get(path)!.data)}`)
  for await (const event of cache.events({ signal: shutdown })) {
    if (event.type === 'resynced') say(`(re-read after: ${event.reason})`)
    else
      say(`${event.type} ${event.path}${event.type === 'deleted' ? '' : ` = ${text(event.data)}`}`)
  }
}
