/**
 * The web console (issue 14) in headless Chromium, against a real 3-member ensemble,
 * served by a follower's client port under /ui/ and talking to the ensemble through the
 * browser build of the SDK:
 * - every member serves the console's files (with a content security policy) and
 *   lists the members in /status; /status answers the members' origins through CORS and
 *   no other origin;
 * - the tree shows a node another client created (lazy children), its data as text,
 *   JSON and hex, its Stat and ACL;
 * - the live feed shows another client's change within a second;
 * - read-only until login: a node the anonymous session may not read shows NO_AUTH;
 *   logged in, set and create work within the user's permissions and a refused write
 *   shows NO_AUTH;
 * - the health panel shows one leader and two followers, catches up with the writes
 *   within the second, charts a burst of writes, and follows a SIGKILL of the leader to
 *   a new leader, the killed member shown unreachable;
 * - with `adminAccess: token` (a standalone server) the page asks for the admin token
 *   and then shows the server.
 * Screenshots go to test-artifacts/web-console/.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { connect, CREATOR_ALL_ACL, READ_ACL_UNSAFE, type Client } from '../../client/index.js'
import { formatZxid } from '../../protocol/index.js'
import { launchBrowser, type BrowserPage } from '../helpers/cdp.js'
import {
  ARTIFACTS_ROOT,
  finishEnsemble,
  startEnsemble,
  type Ensemble,
  type Member,
} from '../helpers/ensemble.js'
import { startServer } from '../helpers/server-process.js'
import { waitFor } from '../helpers/wait.js'

const SHOTS = join(ARTIFACTS_ROOT, 'web-console')

let ensemble: Ensemble | undefined
let page: BrowserPage | undefined
let writer: Client | undefined
let alice: Client | undefined
/** host is the member serving the page: a follower, so killing the leader leaves the page up. */
let host: Member
let failed = false

beforeAll(async () => {
  ensemble = await startEnsemble({ size: 3, name: 'web-console' })
  const { id: leaderId } = await ensemble.leader()
  await waitFor(async () => [...(await ensemble!.statuses()).values()].every((s) => s.serving), {
    timeoutMs: 20_000,
    what: 'every member serving',
  })
  host = ensemble.members.find((m) => m.id !== leaderId)!
  writer = await connect({ servers: ensemble.urls })
  alice = await connect({
    servers: ensemble.urls,
    auth: [{ scheme: 'digest', credentials: 'alice:wonderland' }],
  })
  await writer.create('/console-demo')
  await alice.create('/console-private', 'alice only', { acl: [...CREATOR_ALL_ACL] })
  await alice.create('/console-readonly', 'look, do not touch', {
    acl: [...CREATOR_ALL_ACL, ...READ_ACL_UNSAFE],
  })
  page = await launchBrowser({ width: 1400, height: 1000 })
  await page.navigate(`${host.httpUrl}/ui/`)
  await waitFor(() => text('#conn-state').then((s) => s === 'connected'), {
    timeoutMs: 20_000,
    what: 'the console to connect',
  })
}, 120_000)

afterEach(async (context) => {
  if (context.task.result?.state !== 'fail') return
  failed = true
  const name = context.task.name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60)
  await page?.screenshot(join(SHOTS, `failed-${name}.png`)).catch(() => undefined)
})

afterAll(async () => {
  if (failed && page !== undefined) console.error(`page log:\n${page.log.join('\n')}`)
  await page?.close()
  await writer?.close().catch(() => undefined)
  await alice?.close().catch(() => undefined)
  await finishEnsemble(ensemble, failed, 'web console test failed')
}, 30_000)

/** text is an element's text in the page ('' if there is none). */
function text(selector: string): Promise<string> {
  return page!.evaluate<string>(
    `document.querySelector(${JSON.stringify(selector)})?.textContent ?? ''`,
  )
}

/** click clicks an element in the page, failing if it is not there. */
async function click(selector: string): Promise<void> {
  await page!.evaluate(`(() => {
    const element = document.querySelector(${JSON.stringify(selector)})
    if (element === null) throw new Error('nothing matches ' + ${JSON.stringify(selector)})
    element.click()
  })()`)
}

/** fill sets a form field's value in the page. */
async function fill(selector: string, value: string): Promise<void> {
  await page!.evaluate(
    `document.querySelector(${JSON.stringify(selector)}).value = ${JSON.stringify(value)}`,
  )
}

/** exists tells whether something in the page matches `selector`. */
function exists(selector: string): Promise<boolean> {
  return page!.evaluate<boolean>(`document.querySelector(${JSON.stringify(selector)}) !== null`)
}

/** logIn logs the page in with digest credentials and waits until it says so. */
async function logIn(user: string, password: string): Promise<void> {
  await fill('#login-user', user)
  await fill('#login-password', password)
  await click('#login')
  await waitFor(() => text('#who').then((s) => s === `logged in as ${user}`), {
    timeoutMs: 10_000,
    what: `the login as ${user}`,
  })
}

/** treeRow is the selector of a node's row in the tree. */
const treeRow = (path: string) => `#tree li[data-path="${path}"] > .row`

/** roles reads the health panel: member id to the role it shows. */
function roles(): Promise<Record<string, string>> {
  return page!.evaluate<Record<string, string>>(`Object.fromEntries(
    [...document.querySelectorAll('#health-rows tr')].map((row) => [row.dataset.memberId, row.dataset.role]))`)
}

/** select opens a node in the details panel and waits until it is shown. */
async function select(path: string): Promise<void> {
  // The tree reloads after a login or logout: wait for the row before clicking it.
  await waitFor(() => exists(treeRow(path)), { timeoutMs: 5000, what: `${path} in the tree` })
  await click(`${treeRow(path)} .name`)
  await waitFor(
    async () => (await text('#details-path')) === path || (await text('#details h2')) === path,
    { timeoutMs: 5000, what: `the details of ${path}` },
  )
}

describe('serving the console', () => {
  it('every member serves the console files and lists the members in /status', async () => {
    for (const member of ensemble!.members) {
      const index = await fetch(`${member.httpUrl}/ui/`)
      expect(index.status).toBe(200)
      expect(index.headers.get('content-type')).toMatch(/text\/html/)
      expect(index.headers.get('content-security-policy')).toMatch(/script-src 'self'/)
      expect(await index.text()).toMatch(/<script type="module" src="app.js">/)
      const script = await fetch(`${member.httpUrl}/ui/app.js`)
      expect(script.status).toBe(200)
      expect(await script.text()).not.toMatch(/from\s*["']node:/)
      expect((await fetch(`${member.httpUrl}/ui/secret.txt`)).status).toBe(404)
      const status = (await (await fetch(`${member.httpUrl}/status`)).json()) as {
        members: { id: number; clientPort: number }[]
      }
      expect(status.members.map((m) => [m.id, m.clientPort])).toEqual(
        ensemble!.members.map((m) => [m.id, m.clientPort]),
      )
    }
  })

  it("answers /status to the members' origins through CORS, and to no other origin", async () => {
    const [one, two] = ensemble!.members
    const fromMember = await fetch(`${one!.httpUrl}/status`, {
      headers: { origin: two!.httpUrl },
    })
    expect(fromMember.headers.get('access-control-allow-origin')).toBe(two!.httpUrl)
    const preflight = await fetch(`${one!.httpUrl}/status`, {
      method: 'OPTIONS',
      headers: { origin: two!.httpUrl, 'access-control-request-headers': 'authorization' },
    })
    expect(preflight.status).toBe(204)
    expect(preflight.headers.get('access-control-allow-headers')).toBe('authorization')
    const fromElsewhere = await fetch(`${one!.httpUrl}/status`, {
      headers: { origin: 'http://evil.example:8080' },
    })
    expect(fromElsewhere.status).toBe(200)
    expect(fromElsewhere.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('in the browser', () => {
  it('the tree shows a node another client created, with its data, Stat and ACL', async () => {
    await writer!.create('/console-demo/config', JSON.stringify({ retries: 3, name: 'demo' }))
    await waitFor(() => exists(treeRow('/console-demo')), {
      timeoutMs: 5000,
      what: '/console-demo in the tree',
    })
    await click(`${treeRow('/console-demo')} .toggle`)
    await waitFor(() => exists(treeRow('/console-demo/config')), {
      timeoutMs: 5000,
      what: "/console-demo's child in the tree",
    })
    // An expanded node stays current: a child created now appears without a click.
    await writer!.create('/console-demo/late', '')
    await waitFor(() => exists(treeRow('/console-demo/late')), {
      timeoutMs: 5000,
      what: 'a child created after the expansion in the tree',
    })
    await select('/console-demo/config')
    expect(await text('#details-data')).toBe('{"retries":3,"name":"demo"}')
    await click('#details [data-view="json"]')
    expect(await text('#details-data')).toBe('{\n  "retries": 3,\n  "name": "demo"\n}')
    await click('#details [data-view="hex"]')
    expect(await text('#details-data')).toMatch(/^00000000 {2}7b 22 72 65 74 72 69 65/)
    const { stat } = await writer!.get('/console-demo/config')
    const details = await text('#details')
    expect(details).toContain(`czxid${formatZxid(stat.czxid)}`)
    expect(details).toContain('dataLength27')
    expect(details).toContain('world:anyonecdrwa')
    expect(details).toContain('Read-only: log in')
    await click('#details [data-view="text"]')
    await page!.screenshot(join(SHOTS, 'tree.png'))
  })

  it("the live feed shows another client's change within a second", async () => {
    await fill('#feed-path', '/console-demo')
    await click('#feed-watch')
    await waitFor(() => text('#feed-status').then((s) => s.includes('/console-demo')), {
      timeoutMs: 5000,
      what: 'the feed to watch /console-demo',
    })
    // Timed by the page itself (the row's data-at-ms, the wall clock of this same
    // machine), so the polling of the test and CDP's round trips do not count.
    const startedMs = Date.now()
    await writer!.set('/console-demo/config', '{"retries":4}')
    const row = '#feed-rows tr[data-type="dataChanged"][data-path="/console-demo/config"]'
    const shownAtMs = await waitFor(
      () => page!.evaluate<string | null>(`document.querySelector('${row}')?.dataset.atMs ?? null`),
      { timeoutMs: 10_000, what: 'the change in the live feed' },
    )
    const shownMs = Number(shownAtMs) - startedMs
    console.info(`live feed: the change showed ${shownMs} ms after the set was sent`)
    expect(shownMs).toBeLessThan(1000)
    // Another client's create under the subtree arrives too.
    await writer!.create('/console-demo/added', '')
    await waitFor(
      () => exists('#feed-rows tr[data-type="created"][data-path="/console-demo/added"]'),
      { timeoutMs: 5000, what: 'the create in the live feed' },
    )
  })

  it("is read-only until login; logged in, writes go through within the user's permissions", async () => {
    await select('/console-private')
    expect(await text('#details-error')).toMatch(/^NO_AUTH/)
    expect(await exists('#set')).toBe(false)

    await logIn('alice', 'wonderland')
    await waitFor(() => text('#details-data').then((s) => s === 'alice only'), {
      timeoutMs: 5000,
      what: 'the private node readable after login',
    })
    await fill('#set-data', 'edited in the browser')
    await click('#set')
    await waitFor(
      async () =>
        new TextDecoder().decode((await alice!.get('/console-private')).data) ===
        'edited in the browser',
      { timeoutMs: 5000, what: 'the set from the browser' },
    )
    await fill('#create-name', 'made-in-browser')
    await fill('#create-data', 'hello')
    await click('#create')
    await waitFor(() => alice!.exists('/console-private/made-in-browser'), {
      timeoutMs: 5000,
      what: 'the create from the browser',
    })

    // Bob may read /console-readonly but not change it.
    await click('#logout')
    await waitFor(() => text('#who').then((s) => s === 'read-only'), {
      timeoutMs: 10_000,
      what: 'the logout',
    })
    await logIn('bob', 'builder')
    await select('/console-readonly')
    await waitFor(() => exists('#set'), { timeoutMs: 5000, what: 'the write forms' })
    await fill('#set-data', 'bob was here')
    await click('#set')
    await waitFor(() => text('#message').then((s) => s.includes('NO_AUTH')), {
      timeoutMs: 5000,
      what: 'the refused set shown with NO_AUTH',
    })
    expect(await text('#message')).toMatch(/^set \/console-readonly failed: NO_AUTH/)
    expect(new TextDecoder().decode((await writer!.get('/console-readonly')).data)).toBe(
      'look, do not touch',
    )
    await click('#logout')
  })

  it('the health panel shows one leader and two followers, and follows a leader killed with SIGKILL', async () => {
    const { id: leaderId } = await ensemble!.leader()
    const settled = await waitFor(
      async () => {
        const shown = await roles()
        const values = Object.values(shown)
        return values.length === 3 &&
          values.filter((r) => r === 'leading').length === 1 &&
          values.filter((r) => r === 'following').length === 2
          ? shown
          : undefined
      },
      { timeoutMs: 5000, what: 'one leader and two followers in the health panel' },
    )
    expect(settled[String(leaderId)]).toBe('leading')
    // Refreshed every second: the panel catches up with the writes made since the page
    // loaded, and its chart shows a burst of writes as txns/s.
    let writing = true
    const burst = (async () => {
      for (let i = 0; writing; i++) await writer!.set('/console-demo/config', `{"retries":${i}}`)
    })()
    try {
      await waitFor(
        () => text('#health-legend').then((s) => Number(/txns\/s (\d+)/.exec(s)?.[1]) >= 10),
        { timeoutMs: 5000, what: 'the chart to show the burst of writes' },
      )
    } finally {
      writing = false
      await burst
    }
    const current = (await ensemble!.status(leaderId)).raw.zxid as string
    await waitFor(
      () =>
        page!
          .evaluate<string>(
            `document.querySelector('#health-rows tr[data-member-id="${leaderId}"]').dataset.zxid`,
          )
          .then((zxid) => zxid === current),
      { timeoutMs: 3000, what: `the health panel to show the leader at ${current}` },
    )
    await select('/console-demo/config')
    await click('#details [data-view="json"]')
    await page!.screenshot(join(SHOTS, 'console.png'))

    await ensemble!.member(leaderId).kill('SIGKILL')
    const after = await waitFor(
      async () => {
        const shown = await roles()
        const others = Object.entries(shown).filter(([id]) => id !== String(leaderId))
        return shown[String(leaderId)] === 'unreachable' &&
          others.filter(([, r]) => r === 'leading').length === 1 &&
          others.filter(([, r]) => r === 'following').length === 1
          ? shown
          : undefined
      },
      { timeoutMs: 20_000, what: 'the health panel to show the new leader' },
    )
    const { id: newLeader } = await ensemble!.leader()
    expect(after[String(newLeader)]).toBe('leading')
    // The page's session and feed go on over the failover.
    await writer!.create('/console-demo/after-failover', '')
    await waitFor(
      () => exists('#feed-rows tr[data-type="created"][data-path="/console-demo/after-failover"]'),
      { timeoutMs: 15_000, what: 'a create after the failover in the live feed' },
    )
    await page!.screenshot(join(SHOTS, 'after-leader-kill.png'))
  })
})

describe('with adminAccess: token', () => {
  it('asks for the admin token, then shows the server in the health panel', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'conclave-console-token-'))
    const token = 'console-admin-token-0123456789'
    writeFileSync(join(dir, 'admin-token'), `${token}\n`, { mode: 0o600 })
    const configFile = join(dir, 'config.json')
    writeFileSync(
      configFile,
      JSON.stringify({ adminAccess: 'token', adminTokenFile: join(dir, 'admin-token') }),
    )
    const server = await startServer({ args: ['--config', configFile] })
    try {
      await page!.navigate(`${server.httpUrl}/ui/`)
      await waitFor(
        () => page!.evaluate<boolean>(`!document.querySelector('#token-form').hidden`),
        {
          timeoutMs: 5000,
          what: 'the admin token form',
        },
      )
      expect(await text('#health-note')).toMatch(/admin token/)
      // The tree needs no admin rights: the session is up before the token is given.
      await waitFor(() => text('#conn-state').then((s) => s === 'connected'), {
        timeoutMs: 10_000,
        what: 'the console to connect without the token',
      })
      await waitFor(() => exists(treeRow('/zookeeper')), { timeoutMs: 5000, what: 'the tree' })
      await fill('#admin-token', token)
      await click('#token-form button')
      await waitFor(() => roles().then((shown) => shown['1'] === 'standalone'), {
        timeoutMs: 5000,
        what: 'the standalone server in the health panel',
      })
    } finally {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
