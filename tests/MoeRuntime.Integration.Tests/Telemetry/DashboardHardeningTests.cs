using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// The dashboard against hostile data, in headless Chromium. The silo's aggregators refuse a digest whose rank is not a
/// rank (TelemetryAggregationTests), so to see what the page itself does with markup the test serves the silo's own page,
/// script, stylesheet and Content-Security-Policy from a loopback server of its own whose summary view names a rank
/// <c>&lt;img src=/pwned-img onerror=...&gt;</c> (and puts markup in every other text field): the markup appears as text,
/// no element is made from it, and neither the image nor the handler's fetch ever reaches the server.
/// </summary>
public sealed class DashboardHardeningTests(TelemetrySilo silo) : IClassFixture<TelemetrySilo>
{
    const string Payload = "<img src=/pwned-img onerror=\"fetch('/pwned-script')\">";

    [Fact]
    public async Task TheSilosDashboardHasAContentSecurityPolicyAndNoInlineScriptOrHtmlWrites()
    {
        using HttpResponseMessage page = await silo.GetAsync("/dashboard");
        page.EnsureSuccessStatusCode();
        string policy = Assert.Single(page.Headers.GetValues("Content-Security-Policy"));
        Assert.Contains("script-src 'self'", policy);
        Assert.Contains("default-src 'none'", policy);
        Assert.DoesNotContain("unsafe-inline", policy);
        Assert.DoesNotContain("unsafe-eval", policy);
        Assert.Equal("no-referrer", Assert.Single(page.Headers.GetValues("Referrer-Policy")));
        string html = await page.Content.ReadAsStringAsync();
        Assert.DoesNotContain("<script>", html);
        Assert.DoesNotContain("style=", html);
        Assert.Contains("<script src=\"/dashboard/dashboard.js\"", html);
        Assert.Contains("<script src=\"/dashboard/uPlot.iife.min.js\"", html);
        Assert.DoesNotContain("http://", html);
        Assert.DoesNotContain("https://", html);

        // uPlot comes from npm by the lock file's version and is served by the silo itself, under the same policy.
        using HttpResponseMessage uplot = await silo.GetAsync("/dashboard/uPlot.iife.min.js", header: null);
        uplot.EnsureSuccessStatusCode();
        Assert.Equal(policy, Assert.Single(uplot.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("text/javascript", uplot.Content.Headers.ContentType?.MediaType);
        Assert.StartsWith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */", await uplot.Content.ReadAsStringAsync());

        using HttpResponseMessage script = await silo.GetAsync("/dashboard/dashboard.js", header: null);
        script.EnsureSuccessStatusCode();
        string js = await script.Content.ReadAsStringAsync();
        foreach (string sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(" })
            Assert.DoesNotContain(sink, js);
        Assert.Contains("textContent", js);
    }

    [Fact]
    public async Task ARankNamedWithMarkupAppearsAsTextAndNoScriptRuns()
    {
        var seen = new ConcurrentQueue<string>();
        int port = FreePorts.Take(1)[0];
        using var listener = new System.Net.HttpListener();
        listener.Prefixes.Add($"http://127.0.0.1:{port}/");
        listener.Start();
        using var stop = new CancellationTokenSource();
        Dictionary<string, (string Type, byte[] Body, string Policy)> files = [];
        foreach (var (path, type) in new[]
        {
            ("/dashboard", "text/html"), ("/dashboard/dashboard.js", "text/javascript"), ("/dashboard/dashboard-colors.js", "text/javascript"),
            ("/dashboard/dashboard.css", "text/css"), ("/dashboard/uPlot.iife.min.js", "text/javascript"), ("/dashboard/uPlot.min.css", "text/css"),
        })
        {
            using HttpResponseMessage response = await silo.GetAsync(path);
            response.EnsureSuccessStatusCode();
            files[path] = (type, await response.Content.ReadAsByteArrayAsync(), Assert.Single(response.Headers.GetValues("Content-Security-Policy")));
        }
        Task serving = ServeAsync(listener, files, seen, stop.Token);
        try
        {
            string dom = await new HeadlessChromium(silo.Scratch("chromium-hostile")).DumpDomAsync($"http://127.0.0.1:{port}/dashboard?token=any");

            Assert.Contains("v1/telemetry/summary", string.Join(' ', seen));
            Assert.Contains("layer 1: ranks &lt;img src=/pwned-img onerror=\"fetch('/pwned-script')\"&gt; vs 3 — 5", dom);
            Assert.Contains("<td>&lt;img src=/pwned-img", dom);
            Assert.DoesNotContain("<img", dom, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain(seen, path => path.Contains("pwned", StringComparison.Ordinal));
        }
        finally
        {
            stop.Cancel();
            listener.Stop();
            await serving.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    static async Task ServeAsync(System.Net.HttpListener listener, Dictionary<string, (string Type, byte[] Body, string Policy)> files,
        ConcurrentQueue<string> seen, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            System.Net.HttpListenerContext context = await listener.GetContextAsync().WaitAsync(stop);
            string path = context.Request.Url!.AbsolutePath;
            seen.Enqueue(path);
            var (type, body, policy) = files.TryGetValue(path, out var file) ? file
                : path == "/v1/telemetry/summary" ? ("application/json", HostileSummary(), "")
                : ("text/plain", "not here"u8.ToArray(), "");
            context.Response.StatusCode = files.ContainsKey(path) || path == "/v1/telemetry/summary" ? 200 : 404;
            context.Response.ContentType = type;
            if (policy.Length > 0) context.Response.Headers["Content-Security-Policy"] = policy;
            await context.Response.OutputStream.WriteAsync(body, stop);
            context.Response.Close();
        }
    }

    /// <summary>A summary view in the aggregator's JSON shape with markup in every text field the page shows.</summary>
    static byte[] HostileSummary() => Encoding.UTF8.GetBytes(JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["generatedAt"] = DateTimeOffset.UtcNow,
        ["ranks"] = new { live = 2, stale = 0 },
        ["requests"] = new { total = 7, perSecond = 1.5, errorRatio = 0.0, completionTokensPerSecond = 12.0, admissionRejects = 0 },
        ["latency"] = new Dictionary<string, object> { [Payload] = new { p50 = 0.1, p95 = 0.2, p99 = 0.3, count = 7 } },
        ["slos"] = new[] { new { name = Payload, target = 0.5, actual = 0.4, met = true, burnRate = 0.1 } },
        ["tiers"] = new[] { new { tier = Payload, hitRatio = 0.9, occupancy = 0.5, fetchLatency = new { p95 = 0.01 } } },
        ["mismatches"] = new { total = 5, compared = 50, byLayerAndRanks = new[] { new { layer = 1, rankA = Payload, rankB = "3", count = 5 } } },
        ["experts"] = new[] { new { layer = 0, hits = new[] { 3, 1 }, imbalance = 1.5 } },
    }));
}
