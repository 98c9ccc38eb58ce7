/**
 * The live feed: every change under a chosen subtree, as the SDK's persistent recursive
 * watch (`client.watch(path, { recursive: true })`) delivers it — in zxid order, each
 * once, across reconnects and failovers. The newest event is on top.
 */
import type { Client, WatchEvent } from '../client/index.js'
import { describeError, h } from './dom.js'
import { formatZxid } from './node-view.js'

/** FEED_ROWS_MAX is how many events the feed keeps on the page. */
const FEED_ROWS_MAX = 500

/** FeedView runs one recursive watch at a time and lists its events. */
export class FeedView {
  private client: Client | undefined
  private path = '/'
  private stop: AbortController | undefined

  constructor(
    private readonly rows: HTMLElement,
    private readonly status: HTMLElement,
  ) {}

  /** use restarts the watch on `client` (after login or logout), on the same subtree. */
  use(client: Client): void {
    this.client = client
    this.watch(this.path)
  }

  /** watch switches the feed to the subtree at `path`. */
  watch(path: string): void {
    this.stop?.abort()
    const client = this.client
    if (client === undefined) return
    const stop = new AbortController()
    this.stop = stop
    this.path = path
    this.status.textContent = `watching ${path} and everything under it`
    this.status.className = ''
    void this.run(client, path, stop.signal)
  }

  /** clear empties the list (the watch goes on). */
  clear(): void {
    this.rows.replaceChildren()
  }

  private async run(client: Client, path: string, signal: AbortSignal): Promise<void> {
    try {
      for await (const event of client.watch(path, { recursive: true, signal })) this.add(event)
    } catch (err) {
      if (signal.aborted) return
      this.status.textContent = `the watch on ${path} ended: ${describeError(err)}`
      this.status.className = 'error'
    }
  }

  private add(event: WatchEvent): void {
    const atMs = Date.now()
    const time = new Date(atMs).toISOString().slice(11, 23)
    const detail =
      event.type === 'compacted' && event.oldestZxid !== undefined
        ? `changes before ${formatZxid(event.oldestZxid)} were compacted away`
        : ''
    this.rows.prepend(
      h(
        'tr',
        { 'data-type': event.type, 'data-path': event.path, 'data-at-ms': String(atMs) },
        h('td', {}, time),
        h('td', { class: `event ${event.type}` }, event.type),
        h('td', {}, event.path, detail === '' ? '' : ` (${detail})`),
        h('td', { class: 'zxid' }, formatZxid(event.zxid)),
      ),
    )
    while (this.rows.childElementCount > FEED_ROWS_MAX) this.rows.lastElementChild?.remove()
  }
}
