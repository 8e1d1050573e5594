// The heat map's colour choice (silo/MoeRuntime.Silo/Dashboard/dashboard-colors.js), run by tests/run with
// `node --test tests/dashboard/`: every cell's text meets WCAG AA contrast (4.5:1) against its background.
'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const MoeColors = require(path.join(__dirname, '..', '..', 'silo', 'MoeRuntime.Silo', 'Dashboard', 'dashboard-colors.js'));

test('luminance and contrast match WCAG 2 reference values', () => {
  assert.equal(MoeColors.luminance([0, 0, 0]), 0);
  assert.equal(MoeColors.luminance([255, 255, 255]), 1);
  assert.equal(MoeColors.contrast([0, 0, 0], [255, 255, 255]), 21);
  assert.equal(MoeColors.contrast([255, 255, 255], [0, 0, 0]), 21);
  // #777777 on white is the classic just-failing grey (4.48:1); #767676 just passes (4.54:1).
  assert.ok(Math.abs(MoeColors.contrast([0x77, 0x77, 0x77], [255, 255, 255]) - 4.48) < 0.01);
  assert.ok(Math.abs(MoeColors.contrast([0x76, 0x76, 0x76], [255, 255, 255]) - 4.54) < 0.01);
});

test('HSL converts to the sRGB a browser computes', () => {
  assert.deepEqual(MoeColors.hslToRgb(0, 1, 0.5), [255, 0, 0]);
  assert.deepEqual(MoeColors.hslToRgb(120, 1, 0.25), [0, 128, 0]);
  assert.deepEqual(MoeColors.hslToRgb(240, 1, 0.5), [0, 0, 255]);
  assert.deepEqual(MoeColors.hslToRgb(214, 0.75, 1), [255, 255, 255]);
  assert.deepEqual(MoeColors.hslToRgb(214, 0.75, 0), [0, 0, 0]);
  // hsl(214, 75%, 50%) = #2073df
  assert.deepEqual(MoeColors.hslToRgb(214, 0.75, 0.5), [0x20, 0x73, 0xdf]);
});

test('every heat-map cell, from no hits to all of them, has text at 4.5:1 or better', () => {
  let worst = Infinity;
  for (let i = 0; i <= 1000; i++) {
    const cell = MoeColors.heatCell(i / 1000);
    assert.ok(cell.contrast >= 4.5, `share ${i / 1000}: ${MoeColors.css(cell.text)} on ${MoeColors.css(cell.background)} is ${cell.contrast.toFixed(2)}:1`);
    assert.equal(cell.contrast, MoeColors.contrast(cell.background, cell.text));
    worst = Math.min(worst, cell.contrast);
  }
  assert.ok(worst < 21);
});

test('light cells get black text and dark cells white', () => {
  assert.deepEqual(MoeColors.heatCell(0).text, MoeColors.black);
  assert.deepEqual(MoeColors.heatCell(1).text, MoeColors.white);
  // The page's old choice, white on every cell, fails on the lightest cells: the reason for choosing per cell.
  assert.ok(MoeColors.contrast(MoeColors.heatCell(0).background, MoeColors.white) < 4.5);
});

test('black or white reaches 4.5:1 on any background, not only the heat map\'s', () => {
  for (let r = 0; r <= 255; r += 15) {
    for (let g = 0; g <= 255; g += 15) {
      for (let b = 0; b <= 255; b += 15) {
        const text = MoeColors.textFor([r, g, b]);
        assert.ok(MoeColors.contrast([r, g, b], text) >= 4.5, `rgb(${r}, ${g}, ${b})`);
      }
    }
  }
});

test('shares out of range or not numbers are clamped, not thrown on', () => {
  assert.deepEqual(MoeColors.heatCell(-3), MoeColors.heatCell(0));
  assert.deepEqual(MoeColors.heatCell(7), MoeColors.heatCell(1));
  assert.deepEqual(MoeColors.heatCell(NaN), MoeColors.heatCell(0));
  assert.deepEqual(MoeColors.heatCell(undefined), MoeColors.heatCell(0));
});
