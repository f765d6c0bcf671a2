// A small hand-written SVG of two figures from one run: hot-path calls per
// second and total gzip size, one bar per library.

const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/**
 * `panels`: [{ title, unit, rows: [{ label, value, highlight }] }], drawn side by side.
 * Bars are linear in the value; each carries its number.
 */
export function chartSvg({ title, subtitle, panels }) {
  const rowH = 26;
  const labelW = 190;
  const barW = 230;
  const panelW = labelW + barW + 80;
  const top = 62;
  const rows = Math.max(...panels.map((p) => p.rows.length));
  const width = panelW * panels.length + 20;
  const height = top + rows * rowH + 36;
  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="10" y="20" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<text x="10" y="38" fill="#555">${esc(subtitle)}</text>`,
  ];
  panels.forEach((panel, i) => {
    const x0 = 10 + i * panelW;
    const max = Math.max(...panel.rows.map((r) => r.value ?? 0)) || 1;
    out.push(`<text x="${x0}" y="${top - 6}" font-weight="bold">${esc(panel.title)}</text>`);
    panel.rows.forEach((row, j) => {
      const y = top + j * rowH;
      const w = row.value == null ? 0 : Math.max(1, (row.value / max) * barW);
      const fill = row.highlight ? "#1f6feb" : row.muted ? "#bbb" : "#8b949e";
      out.push(`<text x="${x0 + labelW - 6}" y="${y + 16}" text-anchor="end">${esc(row.label)}</text>`);
      out.push(`<rect x="${x0 + labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${fill}"/>`);
      out.push(`<text x="${x0 + labelW + w + 4}" y="${y + 16}">${esc(row.text ?? `${row.value} ${panel.unit}`)}</text>`);
    });
    if (panel.note) out.push(`<text x="${x0}" y="${top + rows * rowH + 18}" fill="#555">${esc(panel.note)}</text>`);
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
