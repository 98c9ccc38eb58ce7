/**
 * The details panel: the selected node's data (text, JSON or hex), its Stat and its
 * ACL, kept current by a one-shot data watch. Logged in, it offers set, create and
 * delete, each through the SDK under the user's own permissions; a refusal (NO_AUTH,
 * BAD_VERSION, ...) is shown with its code.
 */
import type { Client, NodeMode, Stat } from '../client/index.js'
import { byId, describeError, h } from './dom.js'
import { aclRows, childPath, formatData, statRows, type DataViewKind } from './node-view.js'

/** DetailsView shows one node at a time. */
export class DetailsView {
  private client: Client | undefined
  private writable = false
  private path = '/'
  private view: DataViewKind = 'text'
  private data: Uint8Array = new Uint8Array()
  private stat: Stat | undefined
  /** forms are the write forms on the page, kept across refreshes of the same node. */
  private forms: { path: string; client: Client | undefined; element: HTMLElement } | undefined
  /** shown counts renders, so a watch or reply for an earlier node is ignored. */
  private shown = 0

  constructor(
    private readonly root: HTMLElement,
    private readonly onMutated: (message: string) => void,
  ) {}

  /** use switches to `client`; `writable` offers the write actions (a logged-in user). */
  use(client: Client, writable: boolean): void {
    this.client = client
    this.writable = writable
  }

  /** show reads `path` and renders it. */
  async show(path: string): Promise<void> {
    const client = this.client
    if (client === undefined) return
    this.path = path
    const generation = ++this.shown
    const current = () => generation === this.shown && this.client === client
    try {
      const [{ data, stat }, { acl }] = await Promise.all([
        client.get(path, {
          watch: (event) => {
            if (current() && event.type !== 'sessionLost') void this.show(path)
          },
        }),
        client.getAcl(path),
      ])
      if (!current()) return
      this.data = data
      this.stat = stat
      this.render(aclRows(acl))
    } catch (err) {
      if (!current()) return
      this.stat = undefined
      this.root.replaceChildren(
        h('h2', {}, path),
        h('p', { class: 'error', id: 'details-error' }, describeError(err)),
      )
    }
  }

  private render(acl: [string, string][]): void {
    const stat = this.stat!
    const tabs = h('div', { class: 'tabs' })
    for (const kind of ['text', 'json', 'hex'] as const) {
      const tab = h(
        'button',
        { type: 'button', 'data-view': kind },
        kind === 'json' ? 'JSON' : kind,
      )
      if (kind === this.view) tab.classList.add('active')
      tab.addEventListener('click', () => {
        this.view = kind
        this.render(acl)
      })
      tabs.append(tab)
    }
    const table = (rows: [string, string][], head: [string, string]) =>
      h(
        'table',
        {},
        h('thead', {}, h('tr', {}, h('th', {}, head[0]), h('th', {}, head[1]))),
        h('tbody', {}, ...rows.map(([k, v]) => h('tr', {}, h('td', {}, k), h('td', {}, v)))),
      )
    this.root.replaceChildren(
      h('h2', { id: 'details-path' }, this.path),
      tabs,
      h('pre', { id: 'details-data', class: 'data' }, formatData(this.data, this.view)),
      h(
        'div',
        { class: 'columns' },
        h('section', {}, h('h3', {}, 'Stat'), table(statRows(stat), ['field', 'value'])),
        h('section', {}, h('h3', {}, 'ACL'), table(acl, ['identity', 'permissions'])),
      ),
      this.writable
        ? this.formsFor(this.path)
        : h('p', { class: 'hint' }, 'Read-only: log in to create, set or delete.'),
    )
  }

  /**
   * formsFor returns the write forms of `path`, the same element while the same node
   * stays shown: a refresh of its data (a watch firing) must not wipe what the user is
   * typing.
   */
  private formsFor(path: string): HTMLElement {
    if (this.forms?.path !== path || this.forms.client !== this.client)
      this.forms = { path, client: this.client, element: this.writeForms() }
    return this.forms.element
  }

  /** writeForms are set, create-child and delete for the shown node; set and delete use the version shown. */
  private writeForms(): HTMLElement {
    const value = h('textarea', { id: 'set-data', rows: '3' })
    value.value = new TextDecoder().decode(this.data)
    const setButton = h('button', { type: 'button', id: 'set' }, 'Set data')
    const name = h('input', { id: 'create-name', placeholder: 'child name' })
    const childData = h('input', { id: 'create-data', placeholder: 'data' })
    const mode = h(
      'select',
      { id: 'create-mode' },
      ...['persistent', 'ephemeral', 'persistent-sequential', 'ephemeral-sequential'].map((m) =>
        h('option', { value: m }, m),
      ),
    )
    const createButton = h('button', { type: 'button', id: 'create' }, 'Create child')
    const deleteButton = h(
      'button',
      { type: 'button', id: 'delete', class: 'danger' },
      'Delete node',
    )
    const path = this.path
    const version = () => this.stat?.version ?? -1
    setButton.addEventListener('click', () =>
      this.write(`set ${path}`, (c) => c.set(path, value.value, { version: version() })),
    )
    createButton.addEventListener('click', () => {
      const target = childPath(path, name.value)
      this.write(`create ${target}`, (c) =>
        c.create(target, childData.value, { mode: mode.value as NodeMode }),
      )
    })
    deleteButton.addEventListener('click', () =>
      this.write(`delete ${path}`, (c) => c.delete(path, { version: version() })),
    )
    return h(
      'section',
      { class: 'write' },
      h('h3', {}, 'Change'),
      h('div', { class: 'form-row' }, value, setButton),
      h('div', { class: 'form-row' }, name, childData, mode, createButton),
      h('div', { class: 'form-row' }, deleteButton),
    )
  }

  /** write runs one change and reports it, or its error with the error's code. */
  private write(what: string, change: (client: Client) => Promise<unknown>): void {
    const client = this.client
    if (client === undefined) return
    change(client).then(
      (result) =>
        this.onMutated(`${what}: done${typeof result === 'string' ? ` (${result})` : ''}`),
      (err: unknown) => showError(`${what} failed: ${describeError(err)}`),
    )
  }
}

/** showError puts a message in the page's error line (cleared by the next success). */
export function showError(message: string): void {
  const line = byId('message')
  line.textContent = message
  line.className = 'error'
}

/** showNotice puts a success message in the page's message line. */
export function showNotice(message: string): void {
  const line = byId('message')
  line.textContent = message
  line.className = 'notice'
}
