/**
 * A small line chart as inline SVG (no chart library): one or more series over the
 * last samples, each scaled to the largest value shown.
 */

/** Series is one line: its name, its colour class and its samples, oldest first. */
export interface Series {
  name: string
  className: string
  values: number[]
}

const SVG = 'http://www.w3.org/2000/svg'

/** drawChart replaces `svg`'s content with the series, `slots` samples wide. */
export function drawChart(svg: SVGSVGElement, series: Series[], slots: number): void {
  // Drawn in the element's own pixels, so lines span its whole width and text is not stretched.
  const width = svg.clientWidth || 300
  const height = svg.clientHeight || 80
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`)
  svg.replaceChildren()
  const top = Math.max(1, ...series.flatMap((s) => s.values))
  for (const s of series) {
    const offset = slots - s.values.length
    const points = s.values.map((value, i) => {
      const x = ((offset + i) / Math.max(1, slots - 1)) * width
      const y = height - 4 - (value / top) * (height - 8)
      return `${x.toFixed(1)},${y.toFixed(1)}`
    })
    const line = document.createElementNS(SVG, 'polyline')
    line.setAttribute('points', points.join(' '))
    line.setAttribute('class', s.className)
    svg.append(line)
  }
  const label = document.createElementNS(SVG, 'text')
  label.setAttribute('x', '2')
  label.setAttribute('y', '10')
  label.textContent = `max ${top}`
  svg.append(label)
}
