/**
 * The tree browser: children load when a node is expanded (a click on its arrow) and
 * stay current through a one-shot children watch, renewed each time it fires. Selecting
 * a node shows it in the details panel.
 */
import type { Client } from '../client/index.js'
import { describeError, h } from './dom.js'
import { childPath } from './node-view.js'

/** CHILDREN_SHOWN_MAX bounds the entries listed under one node, so a node with a huge fan-out does not freeze the page. */
const CHILDREN_SHOWN_MAX = 1000

/** TreeView renders the tree into a container element. */
export class TreeView {
  private client: Client | undefined
  /** expanded are the paths whose children are shown; they stay expanded across reloads. */
  private readonly expanded = new Set<string>(['/'])
  private selected = '/'

  constructor(
    private readonly root: HTMLElement,
    private readonly onSelect: (path: string) => void,
  ) {}

  /** selectedPath is the node shown in the details panel. */
  get selectedPath(): string {
    return this.selected
  }

  /** use shows the tree as `client` sees it (after login or logout), keeping what was expanded. */
  use(client: Client): void {
    this.client = client
    this.root.replaceChildren()
    const item = this.item('/', '/')
    this.root.append(h('ul', { class: 'tree' }, item))
    if (this.expanded.has('/')) void this.load(item, '/')
    this.select(this.selected)
  }

  /** select marks `path` as the selected node and shows it. */
  select(path: string): void {
    this.selected = path
    for (const row of this.root.querySelectorAll('.row.selected')) row.classList.remove('selected')
    this.root.querySelector(`li[data-path="${CSS.escape(path)}"] > .row`)?.classList.add('selected')
    this.onSelect(path)
  }

  /** item is the list entry of one node: an arrow to expand it and its name to select it. */
  private item(path: string, name: string): HTMLLIElement {
    const toggle = h('button', { class: 'toggle', title: 'show children', type: 'button' }, '▸')
    const label = h('button', { class: 'name', type: 'button' }, name)
    const li = h('li', { 'data-path': path }, h('div', { class: 'row' }, toggle, label))
    toggle.addEventListener('click', () => {
      if (this.expanded.has(path)) {
        this.expanded.delete(path)
        li.querySelector(':scope > ul')?.remove()
        toggle.textContent = '▸'
      } else {
        this.expanded.add(path)
        void this.load(li, path)
      }
    })
    label.addEventListener('click', () => this.select(path))
    if (path === this.selected) li.firstElementChild?.classList.add('selected')
    return li
  }

  /**
   * load lists the children of `path` into its entry, reusing the entries that are
   * still there (so their own expansion stays), with a watch that loads them again on
   * the next change.
   */
  private async load(li: HTMLLIElement, path: string): Promise<void> {
    const client = this.client
    if (client === undefined) return
    const toggle = li.querySelector(':scope > .row > .toggle')!
    let names: string[]
    try {
      names = await client.children(path, {
        watch: (event) => {
          if (event.type === 'sessionLost') return
          if (this.client === client && this.expanded.has(path) && li.isConnected)
            void this.load(li, path)
        },
      })
    } catch (err) {
      li.querySelector(':scope > ul')?.remove()
      li.append(h('ul', {}, h('li', { class: 'error' }, describeError(err))))
      return
    }
    if (this.client !== client || !this.expanded.has(path)) return
    toggle.textContent = '▾'
    const old = new Map<string, HTMLLIElement>()
    for (const child of li.querySelectorAll<HTMLLIElement>(':scope > ul > li[data-path]'))
      old.set(child.dataset.path!, child)
    const list = h('ul', {})
    if (names.length === 0) list.append(h('li', { class: 'empty' }, 'no children'))
    for (const name of names.slice(0, CHILDREN_SHOWN_MAX)) {
      const child = childPath(path, name)
      const entry = old.get(child) ?? this.item(child, name)
      list.append(entry)
      if (!old.has(child) && this.expanded.has(child)) void this.load(entry, child)
    }
    if (names.length > CHILDREN_SHOWN_MAX)
      list.append(
        h('li', { class: 'empty' }, `… ${names.length - CHILDREN_SHOWN_MAX} more not shown`),
      )
    li.querySelector(':scope > ul')?.remove()
    li.append(list)
  }
}
