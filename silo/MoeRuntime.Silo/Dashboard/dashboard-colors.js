// Colours of the dashboard's expert heat map: a cell's background from its share of the layer's hits, and the text
// colour (black or white) that contrasts more with it. WCAG 2 relative luminance and contrast ratio; with pure black
// and pure white to choose from, the better of the two is at least 4.58:1 on any background, over the 4.5:1 that
// WCAG AA asks of normal text. Loaded by the page before dashboard.js, and by node for tests/dashboard.
'use strict';
const MoeColors = (() => {
  const black = [0, 0, 0];
  const white = [255, 255, 255];

  /** HSL (hue in degrees, saturation and lightness as 0..1) to 8-bit sRGB. */
  function hslToRgb(h, s, l) {
    const a = s * Math.min(l, 1 - l);
    const channel = n => {
      const k = (n + h / 30) % 12;
      return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
    };
    return [channel(0), channel(8), channel(4)];
  }

  /** WCAG 2 relative luminance of an 8-bit sRGB colour, 0 (black) to 1 (white). */
  function luminance([r, g, b]) {
    const linear = c => {
      const v = c / 255;
      return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
    };
    return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  }

  /** WCAG 2 contrast ratio of two colours, 1 to 21. */
  function contrast(x, y) {
    const [hi, lo] = [luminance(x), luminance(y)].sort((p, q) => q - p);
    return (hi + 0.05) / (lo + 0.05);
  }

  /** Black or white, whichever contrasts more with the background. */
  function textFor(background) {
    return contrast(background, black) >= contrast(background, white) ? black : white;
  }

  /** A heat-map cell for a share (0..1, clamped; not a number counts as 0): background, text colour, their contrast. */
  function heatCell(share) {
    const s = Number.isFinite(share) ? Math.min(1, Math.max(0, share)) : 0;
    const background = hslToRgb(214, 0.75, (92 - Math.round(s * 70)) / 100);
    const text = textFor(background);
    return { background, text, contrast: contrast(background, text) };
  }

  const css = ([r, g, b]) => `rgb(${r}, ${g}, ${b})`;

  return { hslToRgb, luminance, contrast, textFor, heatCell, css, black, white };
})();

if (typeof module === 'object' && module.exports) module.exports = MoeColors;
