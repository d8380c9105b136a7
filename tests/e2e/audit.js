/* The phone-page audit, run in the page by tests/e2e/audit.py. */
(() => {
  const problems = [];
  const describe = (el) => {
    const text = (el.innerText || el.value || el.getAttribute('aria-label') || '').trim();
    return `<${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}${el.className && typeof el.className === 'string' ? '.' + el.className.trim().replace(/\s+/g, '.') : ''}> "${text.slice(0, 30)}"`;
  };
  const visible = (el) => {
    const r = el.getBoundingClientRect(), s = getComputedStyle(el);
    return r.width > 0 && r.height > 0 && s.visibility !== 'hidden' && s.display !== 'none';
  };
  // Tap targets: 44 x 44 at least; links inside running text are exempt (WCAG 2.5.8).
  for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
    if (!visible(el) || el.closest('.skip')) continue;
    const style = getComputedStyle(el);
    if (el.tagName === 'A' && style.display === 'inline') continue;
    let box = el.getBoundingClientRect();
    if (el.type === 'checkbox' || el.type === 'radio') {
      const label = el.labels && el.labels[0];
      if (!label) continue; // reported below
      box = label.getBoundingClientRect();
      if (box.height < 44) problems.push(`tap target ${describe(el)}: its label is ${Math.round(box.height)} px high`);
      continue;
    }
    if (box.height < 44 || box.width < 44)
      problems.push(`tap target ${describe(el)} is ${Math.round(box.width)}x${Math.round(box.height)} px`);
  }
  // Labels on every input.
  for (const el of document.querySelectorAll('input:not([type=hidden]), select, textarea')) {
    if (!visible(el)) continue;
    const labelled = (el.labels && el.labels.length) || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
    if (!labelled) problems.push(`no label: ${describe(el)}`);
  }
  // Contrast of every visible piece of text against what is behind it.
  const parse = (c) => { const m = c.match(/[\d.]+/g) || [0, 0, 0, 0]; return [+m[0], +m[1], +m[2], m.length > 3 ? +m[3] : 1]; };
  const blend = (top, bottom) => { const a = top[3]; return [0, 1, 2].map(i => top[i] * a + bottom[i] * (1 - a)).concat([1]); };
  const lum = (c) => { const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }; return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = (el) => {
    const layers = [];
    for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
      const bg = parse(getComputedStyle(node).backgroundColor);
      if (bg[3] > 0) { layers.push(bg); if (bg[3] === 1) break; }
    }
    let color = [255, 255, 255, 1];
    for (let i = layers.length - 1; i >= 0; i--) color = blend(layers[i], color);
    return color;
  };
  const opacity = (el) => { let o = 1; for (let n = el; n && n.nodeType === 1; n = n.parentElement) o *= +getComputedStyle(n).opacity; return o; };
  const seen = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, el = node.parentElement;
    if (!node.textContent.trim() || !el || seen.has(el) || !visible(el)) continue;
    if (el.closest('.skip, .visually-hidden, option, datalist, script, style')) continue;
    seen.add(el);
    const style = getComputedStyle(el), bg = background(el);
    let fg = parse(style.color);
    fg = blend([fg[0], fg[1], fg[2], fg[3] * opacity(el)], bg);
    const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    const size = parseFloat(style.fontSize), bold = parseInt(style.fontWeight, 10) >= 700;
    const needed = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
    if (ratio < needed) problems.push(`contrast ${ratio.toFixed(2)} < ${needed}: ${describe(el)}`);
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 1)
    problems.push(`the page is ${document.documentElement.scrollWidth} px wide on a ${window.innerWidth} px screen`);
  return problems;
})
