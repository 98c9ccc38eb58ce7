/**
 * A configuration tree kept current: a tree cache mirrors `/examples/config`, prints
 * the whole tree once, then every change as it happens, with the zxid the view has
 * reached. Run it, then change the tree from another terminal, with this program's
 * `--set` or the shell:
 *
 *   npx tsx examples/config-watch.ts
 *   npx tsx examples/config-watch.ts --set db/url=postgres://db-2/app
 *   npx conclave shell -c "delete /examples/config/db/url"
 */
import { connect, treeCache } from 'conclave/client'
import { exampleArgs, say, shutdownSignal } from './shared.js'

const ROOT = '/examples/config'
const args = exampleArgs({ set: { type: 'string' } })
await using client = await connect({ servers: args.servers, sessionTimeoutMs: 5000 })
const decoder = new TextDecoder()

if (typeof args.rest.set === 'string') {
  const [key, ...value] = args.rest.set.split('=')
  const path = `${ROOT}/${key}`
  const data = value.join('=')
  await client.set(path, data).catch(async () => client.create(path, data, { makeParents: true }))
  say(`set ${path} = ${data}`)
} else {
  const shutdown = shutdownSignal()
  await using cache = treeCache(client, ROOT)
  await cache.start()
  for (const path of cache.paths()) say(`${path} = ${decoder.decode(cache.get(path)!.data)}`)
  say(`-- view at zxid 0x${cache.zxid.toString(16)}; watching for changes (Ctrl-C stops)`)
  for await (const event of cache.events({ signal: shutdown })) {
    const value = event.type === 'deleted' ? '' : ` = ${decoder.decode(event.data)}`
    say(`${event.type} ${event.path}${value}`)
  }
}
