using System.Buffers.Binary;
using System.Net;
using System.Text.RegularExpressions;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// The built-in dashboard opened in headless Chromium after some load: its script fills the tables
/// from /v1/telemetry/summary (the request count, one heat-map row per layer) and it renders to a
/// real picture; without the token the page is refused (401) and shows nothing.
/// </summary>
public sealed partial class DashboardBrowserTests(TelemetrySilo silo) : IClassFixture<TelemetrySilo>
{
    const int Requests = 6;

    [Fact]
    public async Task TheDashboardShowsLiveDataWithTheTokenAndNothingWithout()
    {
        await silo.StreamAsync(Enumerable.Range(0, Requests).Select(i => $"Dashboard request {i}"), maxTokens: 12);
        await UntilSummaryCountsAsync(Requests);
        string directory = silo.Scratch("chromium");
        var chromium = new HeadlessChromium(directory);
        string url = $"{silo.BaseUrl}/dashboard?token={TelemetrySilo.Token}";

        string dom = await chromium.DumpDomAsync(url);
        Assert.Contains("MoeRuntime cluster", dom);
        Assert.True(RequestsRow().Match(dom) is { Success: true } row && row.Groups[1].Value == Requests.ToString(),
            $"the requests table does not show {Requests} requests:\n{Excerpt(dom, "id=\"requests\"")}");
        int heatRows = HeatMapLayerRow().Matches(Excerpt(dom, "id=\"heat\"", 20_000)).Count;
        Assert.True(heatRows == TelemetrySilo.Layers, $"the expert heat map has {heatRows} layer rows, expected {TelemetrySilo.Layers}:\n{Excerpt(dom, "id=\"heat\"")}");
        Assert.Contains("1 live ranks", dom);
        // Every expert cell chooses its text colour for contrast with its background (dashboard-colors.js, tests/dashboard).
        int heatCells = HeatMapCell().Matches(Excerpt(dom, "id=\"heat\"", 20_000)).Count;
        Assert.True(heatCells == TelemetrySilo.Layers * TelemetrySilo.Experts,
            $"{heatCells} heat-map cells have a background and a black or white text colour, expected {TelemetrySilo.Layers * TelemetrySilo.Experts}:\n{Excerpt(dom, "id=\"heat\"")}");

        string screenshot = Path.Combine(directory, "dashboard.png");
        await chromium.ScreenshotAsync(url, screenshot);
        AssertPicture(screenshot, width: 1280, height: 900);

        string refusedUrl = $"{silo.BaseUrl}/dashboard";
        using (HttpResponseMessage refused = await silo.GetAsync("/dashboard", header: null))
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        string refusedDom = await chromium.DumpDomAsync(refusedUrl);
        Assert.DoesNotContain("MoeRuntime cluster", refusedDom);
        Assert.DoesNotMatch(RequestsRow(), refusedDom);
    }

    /// <summary>The dashboard reads the 1-minute window, which the aggregator fills from the rank's summaries a second or so later.</summary>
    Task UntilSummaryCountsAsync(int requests) =>
        Eventually.UntilAsync($"the 1m summary counts {requests} requests", TimeSpan.FromSeconds(30), async () =>
        {
            using HttpResponseMessage response = await silo.GetAsync("/v1/telemetry/summary?window=1m");
            string json = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode && SummaryTotal().Match(json) is { Success: true } total && total.Groups[1].Value == requests.ToString();
        }, silo.Diagnostics);

    /// <summary>A PNG of the window's size, and more than a blank page's few hundred bytes.</summary>
    static void AssertPicture(string file, int width, int height)
    {
        Assert.True(File.Exists(file), $"chromium wrote no screenshot to {file}");
        byte[] png = File.ReadAllBytes(file);
        Assert.True(png.Length > 20_000, $"the screenshot is only {png.Length} bytes");
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A], png[..8]);
        // IHDR is the first chunk: width and height, big-endian, at bytes 16 and 20.
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
    }

    static string Excerpt(string dom, string marker, int length = 1500)
    {
        int at = dom.IndexOf(marker, StringComparison.Ordinal);
        return at < 0 ? $"(no {marker} in the DOM; it begins: {dom[..Math.Min(dom.Length, length)]})" : dom.Substring(at, Math.Min(length, dom.Length - at));
    }

    [GeneratedRegex(@"<tr><td>requests</td><td>(\d+)</td></tr>")]
    private static partial Regex RequestsRow();

    /// <summary>A heat-map row: the layer number in its first cell, then the expert cells.</summary>
    [GeneratedRegex(@"<tr><td class=""layer"">\d+</td>")]
    private static partial Regex HeatMapLayerRow();

    /// <summary>An expert cell: its background, and black or white text.</summary>
    [GeneratedRegex(@"<td title=""\d+"" style=""background: rgb\(\d+, \d+, \d+\); color: rgb\((0, 0, 0|255, 255, 255)\);"">\d+</td>")]
    private static partial Regex HeatMapCell();

    [GeneratedRegex(@"""requests""\s*:\s*\{[^}]*""total""\s*:\s*(\d+)")]
    private static partial Regex SummaryTotal();
}
