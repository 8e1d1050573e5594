using System.Net;
using System.Net.Http.Headers;
using System.Text.RegularExpressions;
using MoeRuntime.Grains;

namespace MoeRuntime.Integration.Tests.Telemetry;

/// <summary>
/// The test that keeps the catalogue true: one silo serves real traffic (tier misses and evictions from a hot tier that
/// holds a few experts, prefetch hints, a request the full queue refuses, a tenant over its limit, a cancelled stream, a
/// refused scrape, a refused grain call), and then every family of docs/metrics.md must have a sample on its /metrics
/// with exactly the labels the catalogue gives it, unless this test lists it as event-only with the reason. Last, the
/// silo is stopped and drains: a request sent meanwhile is refused as shutting down.
/// </summary>
public sealed partial class CatalogueCoverageTests
{
    const string Token = "coverage-telemetry-token";
    const string LimitedKey = "sk-coverage-limited";
    const string Model = "default";

    /// <summary>
    /// Families with no sample until their event happens, and why this test does not cause it. Everything else must be
    /// on the page; a family listed here that does show up fails the test too, so the list cannot go stale.
    /// </summary>
    static readonly Dictionary<string, string> EventOnly = new(StringComparer.Ordinal)
    {
        ["moe_telemetry_summaries_rejected_total"] = "a shard counts only summaries it refuses; the silo's own are well formed, and an outside caller is refused by its role before the shard sees anything (grain test RefusedSummariesAreCountedOnTheShardsRankByReason)",
        ["moe_expert_call_hedges_total"] = "a call is hedged only to a copy on the router's rank while the expert's default grain lives on another rank; one silo has none (grain tests ExpertHedgeTests)",
        ["moe_request_retries_total"] = "an expert call is retried only on another replica after a failure; one silo has none (grain tests FaultTests)",
        ["moe_prefetch_failures_total"] = "a prefetch fails only when its cold read fails, which needs a damaged checkpoint",
        ["moe_integrity_check_failures_total"] = "needs weights that fail their integrity check on a cold read (grain tests FaultTests)",
        ["moe_expert_quarantined_total"] = "needs an expert whose output is NaN or whose weights fail their check (grain tests FaultTests)",
        ["moe_telemetry_dropped_total"] = "counts only losses: a series over its cap, digests overwritten before collection, a failed interval",
        ["moe_dispatch_bytes_total"] = "counts bytes sent to experts on other ranks; one silo computes its own experts in-process and sends none (grain test TelemetryAggregationTests on three ranks)",
        ["moe_shadow_requests_total"] = ShadowOff,
        ["moe_shadow_tokens_total"] = ShadowOff,
        ["moe_shadow_greedy_agreements_total"] = ShadowOff,
        ["moe_shadow_logprob_divergence_micronats_total"] = ShadowOff,
        ["moe_shadow_routing_positions_total"] = ShadowOff,
        ["moe_shadow_routing_agreements_total"] = ShadowOff,
        ["moe_shadow_latency_seconds"] = ShadowOff,
        ["moe_shadow_greedy_agreement_ratio"] = ShadowOff,
        ["moe_shadow_logprob_divergence"] = ShadowOff,
        ["moe_shadow_routing_agreement_ratio"] = ShadowOff,
    };

    const string ShadowOff = "shadow evaluation runs only with a candidate checkpoint (Moe:Shadow:CandidatePath), off here (grain tests ShadowEvaluationTests)";

    /// <summary>
    /// Families whose first sample depends on timing in this traffic, checked for their labels when they show up: a
    /// prefetch hint moves bytes only when it finds room in the small hot tier before the expert is needed.
    /// </summary>
    static readonly Dictionary<string, string> TimingDependent = new(StringComparer.Ordinal)
    {
        ["moe_prefetch_bytes_total"] = "a hint moves bytes only when the hot tier has room for it in time",
        ["moe_prefetch_effectiveness_ratio"] = "derived from prefetched bytes, which depend on the same timing",
        ["moe_control_decisions_total"] = "counted when a controller or an operator records a decision; the controllers' first one waits for their interval and for demand to move",
    };

    [Fact]
    public async Task EveryCataloguedFamilyHasASampleWithItsLabelsAfterRealTraffic()
    {
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        // The built-in model's experts are 3 MiB each (4 layers x 8, top 2): a 12 MiB hot tier holds four, so a
        // request's layers keep fetching and evicting. One sequence at a time and one queued: a third request is refused.
        await using LocalSilo silo = await LocalSilo.StartAsync("coverage",
        [
            "--Telemetry:Tokens:0", Token,
            "--Moe:FrontDoor:Tenants:0:Name=limited",
            $"--Moe:FrontDoor:Tenants:0:Keys:0={MoeRuntime.FrontDoor.KeyHashes.Configured(LimitedKey)}",
            "--Moe:FrontDoor:Tenants:0:RequestsPerMinute=1",
            "--Moe:HotBudgetBytes=12582912",
            "--Moe:MaxBatchSequences=1",
            "--Moe:MaxQueuedRequests=1",
            "--Moe:DrainTimeout=00:00:03",
            "--Moe:Telemetry:Costs:PromptUsdPer1kTokens=0.001",
            "--Moe:Telemetry:Costs:CompletionUsdPer1kTokens=0.002",
            "--Moe:Telemetry:Costs:HotUsdPerGbHour=1",
        ]);
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{silo.Silo.HttpPort}"), Timeout = TimeSpan.FromSeconds(20) };
        IRouterGrain router = silo.Connection.Client.GetGrain<IRouterGrain>(Model);

        // Served: one generate and one stream, each long enough to cross every layer many times.
        GenerateResponse generated = await router.GenerateAsync(
            new GenerateRequest { Prompt = "Coverage, generated", Sampling = SamplingParameters.Greedy(24) with { StopTokenIds = [] } }, bounded.Token);
        // A client resuming it here, as it would after losing the rank that served it.
        await router.GenerateAsync(new GenerateRequest
        {
            Prompt = "Coverage, generated", Sampling = SamplingParameters.Greedy(24) with { StopTokenIds = [] },
            ResumeTokenIds = generated.TokenIds[..8], ResumeReason = ResumeReasons.RankLost,
        }, bounded.Token);
        StreamedRequest served = StreamedRequest.Start(router, "Coverage, streamed", 24, bounded.Token);
        await served.Ended;
        Assert.True(served.Error is null, $"{served}\n{silo.Diagnostics()}");

        // A long stream holds the batch's one place, a second waits in the queue's one place, a third is refused.
        using var cancelLong = CancellationTokenSource.CreateLinkedTokenSource(bounded.Token);
        StreamedRequest running = StreamedRequest.Start(router, "Coverage, running", 1500, cancelLong.Token);
        await running.FirstToken.WaitAsync(bounded.Token);
        StreamedRequest queued = StreamedRequest.Start(router, "Coverage, queued", 4, bounded.Token);
        await Eventually.UntilAsync("the second request is queued", TimeSpan.FromSeconds(20),
            async () => (await router.GetStatusAsync()).QueueDepth == 1, silo.Diagnostics);
        var refused = await Assert.ThrowsAsync<MoeRequestException>(() => router.GenerateAsync(
            new GenerateRequest { Prompt = "Coverage, refused", Sampling = SamplingParameters.Greedy(4) }, bounded.Token));
        Assert.Equal(MoeErrorCode.AdmissionRejected, refused.Code);
        // The client stops reading the long stream: a cancelled request, a stream reset after its first tokens.
        cancelLong.Cancel();
        await running.Ended;
        await queued.Ended;

        // The front door refuses a tenant over its limit of one request per minute, /metrics refuses a wrong token; a client (operator role here) may not report telemetry as a rank.
        await FrontDoorOverLimitAsync(silo, http);
        using (var denied = new HttpRequestMessage(HttpMethod.Get, "/metrics"))
        {
            denied.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "not-the-token");
            using HttpResponseMessage refusedScrape = await http.SendAsync(denied, bounded.Token);
            Assert.False(refusedScrape.IsSuccessStatusCode, $"/metrics answered {refusedScrape.StatusCode} to a wrong token");
        }
        await Assert.ThrowsAnyAsync<Exception>(() => silo.Connection.Client.GetGrain<IShardAggregatorGrain>(0).ReportAsync([0xC1]));

        // Summaries ship every second and the cluster gauges follow: wait until the refusal and the cancellation are counted.
        MetricsText metrics = null!;
        await Eventually.UntilAsync("/metrics counts the refused and the cancelled request", TimeSpan.FromSeconds(30), async () =>
        {
            metrics = await ScrapeAsync(http);
            return metrics.Sum("moe_admission_rejects_total", ("reason", "queue_full")) >= 1
                && metrics.Sum("moe_requests_total", ("error_type", "cancelled")) >= 1
                && metrics.Sum("moe_admission_rejects_total", ("reason", "over_limit")) >= 1
                // The cluster gauges are declared from the start; wait for their first samples (the aggregator's first interval).
                && new[] { "moe_cluster_latency_seconds", "moe_cluster_slo_burn_rate", "moe_cluster_stale_ranks" }.All(f => metrics.LabelNames(f).Count > 0);
        }, silo.Diagnostics);

        // The traffic did what it was shaped to do.
        Assert.True(metrics.Sum("moe_tier_misses_total", ("tier", "hot")) > 0, "no expert call missed the hot tier");
        Assert.True(metrics.Sum("moe_evictions_total") > 0, "no expert was evicted");
        Assert.True(metrics.Sum("moe_requests_total", ("status", "partial"), ("error_type", "cancelled")) >= 1, "the cancelled stream is not partial");
        Assert.True(metrics.Sum("moe_requests_total", ("status", "error"), ("error_type", "rejected")) >= 1, "the refused request is not counted as rejected");
        Assert.True(metrics.Sum("moe_stream_resets_total") >= 1, "the cancelled stream is not a reset");

        var problems = new List<string>();
        foreach (CataloguedFamily family in MetricCatalogue.Families())
        {
            string sampleName = family.Kind == "histogram" ? family.Name + "_count" : family.Name;
            IReadOnlyList<string[]> labelSets = metrics.LabelNames(sampleName);
            bool eventOnly = EventOnly.ContainsKey(family.Name);
            if (labelSets.Count == 0)
            {
                if (!eventOnly && !TimingDependent.ContainsKey(family.Name)) problems.Add($"{family.Name}: no sample");
                continue;
            }
            if (eventOnly) problems.Add($"{family.Name}: listed as event-only ({EventOnly[family.Name]}) but has samples; take it off the list");
            string[] expected = [.. family.ImplicitLabels, .. family.Labels];
            Array.Sort(expected, StringComparer.Ordinal);
            if (!labelSets.Any(set => set.SequenceEqual(expected)))
                problems.Add($"{family.Name}: labels {string.Join(" | ", labelSets.Select(s => string.Join(",", s)).Distinct())}, catalogued {string.Join(",", expected)}");
        }
        Assert.True(problems.Count == 0, string.Join("\n", problems));

        // Shutdown: the silo drains; a request sent while it drains is refused as shutting down, and it exits cleanly.
        StreamedRequest draining = StreamedRequest.Start(router, "Coverage, draining", 1500, bounded.Token);
        await draining.FirstToken.WaitAsync(bounded.Token);
        silo.Process.Terminate();
        await Eventually.UntilAsync("a request sent while the silo drains is refused as shutting down", TimeSpan.FromSeconds(20), async () =>
        {
            try
            {
                await router.GenerateAsync(new GenerateRequest { Prompt = "Coverage, too late", Sampling = SamplingParameters.Greedy(2) }, bounded.Token);
                return false;
            }
            catch (MoeRequestException e) when (e.Code == MoeErrorCode.ShuttingDown)
            {
                return true;
            }
            catch (MoeRequestException)
            {
                return false;
            }
        }, silo.Diagnostics);
        await draining.Ended;
        Assert.True(await silo.Process.WaitForExitAsync(TimeSpan.FromSeconds(30)), $"the silo did not exit\n{silo.Diagnostics()}");
        Assert.Equal(0, silo.Process.ExitCode);
    }

    /// <summary>A tenant with one request per minute: the second is refused with 429 and counted as over_limit.</summary>
    static async Task FrontDoorOverLimitAsync(LocalSilo silo, HttpClient http)
    {
        HttpStatusCode last = HttpStatusCode.OK;
        for (int i = 0; i < 3 && last != HttpStatusCode.TooManyRequests; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
            {
                Content = new StringContent($$"""{"model":"{{Model}}","prompt":"Coverage {{i}}","max_tokens":2}""", System.Text.Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", LimitedKey);
            last = (await http.SendAsync(request)).StatusCode;
        }
        Assert.True(last == HttpStatusCode.TooManyRequests, $"the limited tenant was never refused (last {last})\n{silo.Diagnostics()}");
    }

    static async Task<MetricsText> ScrapeAsync(HttpClient http)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/metrics");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using HttpResponseMessage response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return new MetricsText(await response.Content.ReadAsStringAsync());
    }
}
