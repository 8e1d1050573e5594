using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// The dashboard's charts in headless Chromium, driven over the DevTools protocol so that the page's polls run in real
/// time: after some load every chart draws its first series inside its plotting area (pixels of the series' colour on
/// the canvas), gains points with each poll (the page's bounded history), and draws a controller decision as a marker.
/// Its own silo: the table test counts requests exactly.
/// </summary>
public sealed partial class DashboardChartTests(TelemetrySilo silo) : IClassFixture<TelemetrySilo>
{
    /// <summary>Pixels of a chart's first series' colour inside its plotting area that count as "drawn".</summary>
    const int DrawnPixels = 20;

    /// <summary>
    /// In the page: for every chart, its points, how many pixels inside the plotting area have the first series' colour
    /// (no other element of the page has it, and axes and grid are grey), and the first series' latest value.
    /// </summary>
    const string ChartState = """
        (() => {
          const rgb = hex => [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16));
          const count = (u, colour) => {
            const [r, g, b] = rgb(colour);
            const box = u.bbox;
            const pixels = u.ctx.getImageData(box.left, box.top, box.width, box.height).data;
            let n = 0;
            for (let i = 0; i < pixels.length; i += 4)
              if (pixels[i + 3] > 200 && Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b) <= 30) n++;
            return n;
          };
          return JSON.stringify({
            error: document.getElementById('chart-error').textContent,
            charts: charts.map(c => ({ id: c.spec.id, points: c.plot.data[0].length, pixels: count(c.plot, c.spec.series[0].stroke),
              last: c.plot.data[1][c.plot.data[1].length - 1] ?? null })),
          });
        })()
        """;

    /// <summary>A decision marker put in the middle of every chart's time range: how many pixels of the "applied" colour each chart then has.</summary>
    const string MarkerPixels = """
        (async () => {
          decisions = charts.length === 0 ? [] : [{ at: (charts[0].plot.scales.x.min + charts[0].plot.scales.x.max) / 2, outcome: 'applied' }];
          for (const c of charts) c.plot.redraw(false, false);
          await new Promise(resolve => setTimeout(resolve, 0));
          const [r, g, b] = [0x6f, 0x42, 0xc1];
          return JSON.stringify(charts.map(c => {
            const box = c.plot.bbox;
            const pixels = c.plot.ctx.getImageData(box.left, box.top, box.width, box.height).data;
            let n = 0;
            for (let i = 0; i < pixels.length; i += 4)
              if (pixels[i + 3] > 200 && Math.abs(pixels[i] - r) + Math.abs(pixels[i + 1] - g) + Math.abs(pixels[i + 2] - b) <= 30) n++;
            return n;
          }));
        })()
        """;

    static readonly string[] Charts = ["chart-requests", "chart-tokens", "chart-latency", "chart-hits", "chart-hot"];

    [Fact]
    public async Task TheChartsDrawTheViewsAndGainAPointWithEveryPoll()
    {
        await silo.StreamAsync(Enumerable.Range(0, 4).Select(i => $"Chart request {i}"), maxTokens: 12);
        await UntilSummaryCountsAsync(atLeast: 4);
        await using ChromiumPage page = await ChromiumPage.OpenAsync(silo.Scratch("chromium-charts"), $"{silo.BaseUrl}/dashboard?token={TelemetrySilo.Token}");

        Chart[] drawn = await UntilChartsAsync(page, "every chart has a point and draws its first series", charts =>
            charts.All(c => c.Points >= 1 && c.Pixels >= DrawnPixels));
        Assert.Equal(Charts, drawn.Select(c => c.Id));
        Assert.All(drawn, c => Assert.True(c.Last is > 0, $"{c.Id}'s first series has no positive value: {c}"));

        // The page polls every 2 s; within a bounded wait every chart has more points than it had, and still draws.
        Chart[] later = await UntilChartsAsync(page, "every chart gains points with the next polls", charts =>
            charts.Length == drawn.Length && charts.Zip(drawn).All(p => p.First.Points >= p.Second.Points + 2 && p.First.Pixels >= DrawnPixels));
        Assert.All(later, c => Assert.True(c.Points <= 300, $"{c.Id} keeps {c.Points} points, over the page's bound of 300"));

        // Controller decisions are drawn as markers across each chart.
        int[] markers = [];
        await Eventually.UntilAsync("a decision marker is drawn on every chart", TimeSpan.FromSeconds(20), async () =>
        {
            markers = JsonSerializer.Deserialize<int[]>((string)(await page.EvaluateAsync(MarkerPixels))!)!;
            return markers.Length == Charts.Length && markers.All(n => n >= 10);
        }, () => $"marker pixels per chart: [{string.Join(", ", markers)}]\n{page.Diagnostics()}");
    }

    sealed record Chart(string Id, int Points, int Pixels, double? Last);

    static async Task<Chart[]> UntilChartsAsync(ChromiumPage page, string what, Func<Chart[], bool> done)
    {
        Chart[] charts = [];
        string error = "";
        await Eventually.UntilAsync(what, TimeSpan.FromSeconds(30), async () =>
        {
            var state = JsonNode.Parse((string)(await page.EvaluateAsync(ChartState))!)!;
            error = state["error"]!.GetValue<string>();
            Assert.True(error.Length == 0, $"the page reports a chart error: {error}");
            charts = state["charts"]!.AsArray().Select(c => new Chart(c!["id"]!.GetValue<string>(), c["points"]!.GetValue<int>(),
                c["pixels"]!.GetValue<int>(), c["last"]?.GetValue<double>())).ToArray();
            return charts.Length == Charts.Length && done(charts);
        }, () => $"charts: {string.Join("; ", charts.Select(c => c.ToString()))}\n{page.Diagnostics()}");
        return charts;
    }

    /// <summary>The dashboard reads the 1-minute window, which the aggregator fills from the rank's summaries a second or so later.</summary>
    Task UntilSummaryCountsAsync(int atLeast) =>
        Eventually.UntilAsync($"the 1m summary counts at least {atLeast} requests", TimeSpan.FromSeconds(30), async () =>
        {
            using HttpResponseMessage response = await silo.GetAsync("/v1/telemetry/summary?window=1m");
            string json = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode && SummaryTotal().Match(json) is { Success: true } total && int.Parse(total.Groups[1].Value) >= atLeast;
        }, silo.Diagnostics);

    [GeneratedRegex(@"""requests""\s*:\s*\{[^}]*""total""\s*:\s*(\d+)")]
    private static partial Regex SummaryTotal();
}
