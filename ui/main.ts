/**
 * The web console's entry point (bundled by `npm run build:ui` into dist/ui/app.js and
 * served under /ui/ by every member). It connects to the ensemble through the browser
 * build of the SDK, anonymously (read-only) until the user logs in with digest
 * credentials, and reads the members' /status for the health panel.
 */
import { Connection } from './connection.js'
import { DetailsView, showError, showNotice } from './details.js'
import { byId, describeError } from './dom.js'
import { FeedView } from './feed.js'
import {
  endpointsOf,
  fetchStatus,
  HealthView,
  StatusError,
  type MemberEndpoint,
  type StatusBody,
} from './health.js'
import { TreeView } from './tree.js'

/** TOKEN_KEY is where the admin token stays for the browser tab (adminAccess: token). */
const TOKEN_KEY = 'conclave-admin-token'

let adminToken = sessionStorage.getItem(TOKEN_KEY) ?? undefined

/** wsUrl is the WebSocket URL of a member at `host` (host:port), in the page's scheme. */
function wsUrl(host: string): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${host}`
}

/**
 * ownStatus reads the page's member's /status: 'token' when it wants the admin token
 * (adminAccess: token), undefined when it refuses otherwise (the console then works
 * without the health panel).
 */
async function ownStatus(): Promise<StatusBody | 'token' | undefined> {
  try {
    return await fetchStatus('', adminToken)
  } catch (err) {
    if (err instanceof StatusError && err.status === 401) return 'token'
    byId('health-note').textContent = `No health panel: /status answered ${describeError(err)}`
    return undefined
  }
}

/** statusWithToken asks for the admin token until /status takes it (the tree and feed work meanwhile). */
async function statusWithToken(): Promise<StatusBody | undefined> {
  for (;;) {
    byId('health-note').textContent =
      'This ensemble wants the admin token for /status (adminAccess: token).'
    adminToken = await askToken()
    sessionStorage.setItem(TOKEN_KEY, adminToken)
    const own = await ownStatus()
    if (own === 'token') continue
    if (own !== undefined) byId('health-note').textContent = ''
    return own
  }
}

/** serversOf are the SDK's server URLs for the members (the page's own member by the page's host). */
function serversOf(endpoints: MemberEndpoint[]): string[] {
  return endpoints.map((e) =>
    wsUrl(e.base === '' ? location.host : e.base.slice(e.base.indexOf('//') + 2)),
  )
}

/** startHealth polls every member listed by the page's member's /status. */
function startHealth(own: StatusBody): void {
  new HealthView(
    byId('health-rows'),
    byId('health-chart') as unknown as SVGSVGElement,
    byId('health-legend'),
    endpointsOf(own, location.protocol),
    () => adminToken,
  ).start()
}

/** askToken shows the admin token form and resolves with what the user enters. */
function askToken(): Promise<string> {
  const form = byId<HTMLFormElement>('token-form')
  form.hidden = false
  return new Promise((resolve) => {
    form.addEventListener(
      'submit',
      (event) => {
        event.preventDefault()
        form.hidden = true
        resolve(byId<HTMLInputElement>('admin-token').value.trim())
      },
      { once: true },
    )
  })
}

async function main(): Promise<void> {
  const own = await ownStatus()
  const connection = new Connection(
    typeof own === 'object'
      ? serversOf(endpointsOf(own, location.protocol))
      : [wsUrl(location.host)],
  )

  const details = new DetailsView(byId('details'), (message) => {
    showNotice(message)
    void details.show(tree.selectedPath)
  })
  const tree = new TreeView(byId('tree'), (path) => void details.show(path))
  const feed = new FeedView(byId('feed-rows'), byId('feed-status'))

  connection.onState((state) => {
    const badge = byId('conn-state')
    badge.textContent = state
    badge.dataset.state = state
    byId('conn-server').textContent = connection.client?.serverUrl ?? ''
  })
  connection.onChange((client, user) => {
    byId('who').textContent = user === undefined ? 'read-only' : `logged in as ${user}`
    byId<HTMLFormElement>('login-form').hidden = user !== undefined
    byId('logout').hidden = user === undefined
    details.use(client, user !== undefined)
    tree.use(client)
    feed.use(client)
  })

  byId<HTMLFormElement>('login-form').addEventListener('submit', (event) => {
    event.preventDefault()
    const user = byId<HTMLInputElement>('login-user').value
    const password = byId<HTMLInputElement>('login-password').value
    connection.open(`${user}:${password}`).then(
      () => showNotice(`logged in as ${user}`),
      (err: unknown) => showError(`login failed: ${describeError(err)}`),
    )
  })
  byId('logout').addEventListener('click', () => {
    connection.open().then(
      () => showNotice('logged out: read-only'),
      (err: unknown) => showError(`could not reconnect: ${describeError(err)}`),
    )
  })
  byId<HTMLFormElement>('feed-form').addEventListener('submit', (event) => {
    event.preventDefault()
    feed.watch(byId<HTMLInputElement>('feed-path').value || '/')
  })
  byId('feed-clear').addEventListener('click', () => feed.clear())

  if (own === 'token') {
    void statusWithToken().then((status) => {
      if (status === undefined) return
      connection.setServers(serversOf(endpointsOf(status, location.protocol)))
      startHealth(status)
    })
  } else if (own !== undefined) startHealth(own)
  await connection.open()
}

main().catch((err: unknown) => showError(`the console could not start: ${describeError(err)}`))
