using System.Text.Json;
using MoeRuntime.Grains.Hosting;
using MoeRuntime.Grains.Telemetry;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.DefaultModel;
using MoeRuntime.Model.Loading;
using MoeRuntime.Telemetry.Aggregation;

namespace MoeRuntime.Grains.Tests;

static class Views
{
    public static async Task<TelemetryView> ClusterAsync(IClusterClient client, string window = "1m") =>
        JsonSerializer.Deserialize<TelemetryView>(await client.GetGrain<IClusterAggregatorGrain>(0).GetViewAsync(window), TelemetryJson.Options)!;

    /// <summary>Polls the cluster view until <paramref name="done"/> holds (ranks report every second).</summary>
    public static Task<TelemetryView> WaitForAsync(IClusterClient client, Func<TelemetryView, bool> done) =>
        Eventually.PollAsync(() => ClusterAsync(client), done, 100, TimeSpan.FromMilliseconds(200));

    /// <summary>
    /// The cluster view once requests served earlier have all arrived: two reads a rank interval plus a shard interval
    /// apart count the same requests and expert hits. A baseline read sooner can miss a request still on its way.
    /// </summary>
    public static async Task<TelemetryView> SettledAsync(IClusterClient client)
    {
        TelemetryView view = await ClusterAsync(client);
        for (int i = 0; i < 10; i++)
        {
            await Task.Delay(TimeSpan.FromSeconds(2.5));
            TelemetryView next = await ClusterAsync(client);
            if (next.Requests.Total == view.Requests.Total && next.Experts.Sum(l => l.Hits.Sum()) == view.Experts.Sum(l => l.Hits.Sum())) return next;
            view = next;
        }
        return view;
    }
}

public sealed class TelemetryAggregationTests(UnhedgedThreeRankFixture fixture) : IClassFixture<UnhedgedThreeRankFixture>
{
    [Fact]
    public async Task TheClusterViewCountsEveryRequestTokenAndExpertHitExactly()
    {
        TelemetryView before = await Views.SettledAsync(fixture.Client);
        string[] prompts = ["counting", "every token", "and every expert hit"];
        GenerateResponse[] answers = await Task.WhenAll(prompts.Select(p => fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName)
            .GenerateAsync(new GenerateRequest { Prompt = p, Sampling = SamplingParameters.Greedy(10) with { StopTokenIds = [] } })));
        double requests = before.Requests.Total + prompts.Length;
        // Every token fed through the model (prompt, then each generated token but the last) is routed to top-2 experts per layer.
        long fed = answers.Sum(a => a.PromptTokens + a.TokenIds.Length - 1);
        long expectedHits = before.Experts.Sum(l => l.Hits.Sum()) + 4 * 2 * fed;
        // Ranks report every second and shards forward every second: wait for every rank's share to arrive.
        TelemetryView view = await Views.WaitForAsync(fixture.Client, v =>
            v.Requests.Total >= requests && v.Ranks.Live == 3 && v.Experts.Sum(l => l.Hits.Sum()) >= expectedHits);

        Assert.Equal(requests, view.Requests.Total);
        Assert.Equal(3, view.Ranks.Live);
        foreach (LayerExperts layer in view.Experts)
            Assert.Equal(before.Experts[layer.Layer].Hits.Sum() + 2 * fed, layer.Hits.Sum());
        Assert.True(view.Latency["moe_request_duration_seconds"].Count >= prompts.Length);
        Assert.True(view.Latency["moe_time_to_first_token_seconds"].P50 > 0);
        Assert.True(view.Traffic.DispatchBytesSent > 0);
        Assert.True(view.Mismatches.Compared > 0, "ranks compared routing digests");
        Assert.Equal(0, view.Mismatches.Total);
        Assert.Contains(view.Slos, s => s.Name == "availability" && s.Met);
    }

    [Fact]
    public async Task ARankViewShowsOnlyThatRanksExperts()
    {
        await fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest { Prompt = "rank view", Sampling = SamplingParameters.Greedy(6) });
        await Task.Delay(2500);
        var view = JsonSerializer.Deserialize<TelemetryView>(await fixture.Client.GetGrain<IShardAggregatorGrain>(1).GetRankViewAsync("1", "1m"), TelemetryJson.Options)!;
        Assert.Equal("rank 1", view.Scope);
        for (int layer = 0; layer < 4; layer++)
            for (int expert = 0; expert < 8; expert++)
                if (Serving.Placement.ExpertOwnership.OwnerOf(layer, expert, 8, [0, 1, 2]) != 1)
                    Assert.Equal(0, view.Experts[layer].Hits[expert]);
        Assert.True(view.Experts.Sum(l => l.Hits.Sum()) > 0);
    }
}

/// <summary>Three ranks where rank 2's checkpoint has the gate of layer 1 negated: it re-checks routing differently.</summary>
public sealed class PerturbedGateFixture() : ClusterFixture(3)
{
    public const int PerturbedLayer = 1;
    string? _perturbed;

    protected override void PrepareModel(string directory)
    {
        base.PrepareModel(directory);
        _perturbed = Directory.CreateTempSubdirectory("moe-perturbed-").FullName;
        foreach (string source in Directory.GetFiles(directory)) File.Copy(source, Path.Combine(_perturbed, Path.GetFileName(source)));
        using (var checkpoint = SafetensorsCheckpoint.Open(_perturbed))
        {
            TensorEntry gate = checkpoint.Entry(new CheckpointTensorNames(Model.Configuration.ModelArchitecture.Mixtral).Gate(PerturbedLayer));
            var bytes = new byte[gate.Length];
            checkpoint.ReadBytes(gate, bytes);
            for (int i = 1; i < bytes.Length; i += 2) bytes[i] ^= 0x80; // flip every bfloat16's sign
            using var file = new FileStream(gate.File, FileMode.Open, FileAccess.Write);
            file.Position = gate.Offset;
            file.Write(bytes);
        }
        // Another model imported on purpose (its own manifest, another digest), not a corrupt copy, which would not start.
        CheckpointManifest.Write(_perturbed);
    }

    protected override void Configure(MoeSiloOptions options)
    {
        options.RoutingCheckEveryNTokens = 4;
        if (options.Rank == 2) options.ModelPath = _perturbed!;
    }
}

public sealed class RoutingMismatchTests(PerturbedGateFixture fixture) : IClassFixture<PerturbedGateFixture>
{
    [Fact]
    public async Task ARankWithPerturbedGateWeightsIsNamedWithItsLayer()
    {
        await fixture.Client.GetGrain<IRouterGrain>(ClusterFixture.ModelName).GenerateAsync(new GenerateRequest
        {
            Prompt = "a prompt long enough to sample several tokens for digests",
            Sampling = SamplingParameters.Greedy(40) with { StopTokenIds = [] },
        });
        // The other tests of this class ship digests of their own ranks (1000 and up): wait for the perturbed rank's.
        TelemetryView view = await Views.WaitForAsync(fixture.Client, v => v.Mismatches.Recent.Any(m => m.RankB == "2"));

        Assert.True(view.Mismatches.Total > 0, "the perturbed rank was not detected");
        Assert.All(view.Mismatches.ByLayerAndRanks.Where(m => int.Parse(m.RankA) < ManyKeysRank), m =>
        {
            Assert.Equal(PerturbedGateFixture.PerturbedLayer, m.Layer);
            Assert.Equal("2", m.RankB);
        });
        Assert.Contains(view.Mismatches.Recent, m => m.Layer == PerturbedGateFixture.PerturbedLayer && m.RankB == "2");
    }

    /// <summary>Ranks of the digests these tests ship themselves: far above the fixture's ranks 0, 1 and 2.</summary>
    const int ManyKeysRank = 1000, HostileTestRank = 3000;

    [Fact]
    public async Task AShardWithMoreMismatchKeysThanItsRecentListKeepsReportingThem()
    {
        // One rank and 40 others that each route every checked token of 4 layers differently: 160 (layer, rank pair)
        // keys in one shard interval, more than the 100 mismatches its recent list keeps.
        const int Others = 40, Layers = 4;
        IShardAggregatorGrain shard = fixture.Client.GetGrain<IShardAggregatorGrain>(0);
        await shard.ReportDigestsAsync($"{ManyKeysRank}", Digests(_ => 7));
        for (int rank = 1; rank <= Others; rank++)
            await shard.ReportDigestsAsync($"{ManyKeysRank + rank}", Digests(layer => 100UL + (ulong)layer));

        TelemetryView view = await Views.WaitForAsync(fixture.Client, v => ManyKeys(v).Count() == Others * Layers);
        Assert.All(ManyKeys(view), m => Assert.Equal(1, m.Count));

        // The shard is not stuck on them: a second round is counted too.
        await shard.ReportDigestsAsync($"{ManyKeysRank}", Digests(_ => 7, request: 2));
        for (int rank = 1; rank <= Others; rank++)
            await shard.ReportDigestsAsync($"{ManyKeysRank + rank}", Digests(layer => 200UL + (ulong)layer, request: 2));
        view = await Views.WaitForAsync(fixture.Client, v => ManyKeys(v).All(m => m.Count == 2) && ManyKeys(v).Count() == Others * Layers);
        Assert.Equal(Others * Layers, ManyKeys(view).Count());

        static IEnumerable<MismatchCount> ManyKeys(TelemetryView v) =>
            v.Mismatches.ByLayerAndRanks.Where(m => int.Parse(m.RankA) is >= ManyKeysRank and < HostileTestRank);
    }

    [Fact]
    public async Task DigestsAndRankViewsNamingNoRankAreRefusedSoNoMarkupReachesTheViews()
    {
        const string Hostile = "<img src=x onerror=alert(1)>";
        IShardAggregatorGrain shard = fixture.Client.GetGrain<IShardAggregatorGrain>(1);
        // The hostile rank disagrees with a real one about a token; so does a second real one, after it on the same shard.
        await shard.ReportDigestsAsync(Hostile, Digests(_ => 1, request: 9));
        await shard.ReportDigestsAsync("007", Digests(_ => 2, request: 9));
        await shard.ReportDigestsAsync($"{HostileTestRank}", Digests(_ => 3, request: 9));
        await shard.ReportDigestsAsync($"{HostileTestRank + 1}", Digests(_ => 4, request: 9));

        // Once the later pair is counted, the earlier reports have been handled: refused, they name no mismatch.
        TelemetryView view = await Views.WaitForAsync(fixture.Client, v => v.Mismatches.ByLayerAndRanks.Any(m => m.RankA == $"{HostileTestRank}" || m.RankB == $"{HostileTestRank}"));
        Assert.DoesNotContain(view.Mismatches.ByLayerAndRanks, m => !int.TryParse(m.RankA, out _) || !int.TryParse(m.RankB, out _) || m.RankA == "007" || m.RankB == "007");
        Assert.DoesNotContain("<img", JsonSerializer.Serialize(view, TelemetryJson.Options), StringComparison.Ordinal);

        var e = await Assert.ThrowsAsync<ArgumentException>(() => shard.GetRankViewAsync(Hostile, "1m"));
        Assert.Contains("a rank is a non-negative decimal number", e.Message);
        Assert.DoesNotContain("<img", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusedSummariesAreCountedOnTheShardsRankByReason()
    {
        // A rank far above the fixture's, so no real summary of it races these.
        const string Rank = "2500";
        IShardAggregatorGrain shard = fixture.Client.GetGrain<IShardAggregatorGrain>(2);
        Dictionary<string, double> before = await RejectedByReasonAsync();
        var collector = new MoeRuntime.Telemetry.Collection.RankCollector(new MoeRuntime.Telemetry.Collection.RankCollectorOptions
        {
            RankId = Rank, Model = ClusterFixture.ModelName, Layers = 4, Experts = 8,
        });
        byte[] first = MoeRuntime.Telemetry.Summaries.SummaryCodec.Encode(collector.CollectSummary());
        byte[] otherVersion = (byte[])first.Clone();
        otherVersion[3] = 2; // array16 header, then the schema version as a positive fixint
        MoeRuntime.Telemetry.Summaries.RankSummary jump = collector.CollectSummary();
        byte[] jumped = MoeRuntime.Telemetry.Summaries.SummaryCodec.Encode(new MoeRuntime.Telemetry.Summaries.RankSummary
        {
            RankId = jump.RankId, Model = jump.Model, Sequence = MoeRuntime.Telemetry.Aggregation.RankTracker.MaxSequence + 1,
            IntervalStart = jump.IntervalStart, IntervalEnd = jump.IntervalEnd, SampleEveryNTokens = jump.SampleEveryNTokens,
            Counters = jump.Counters, Gauges = jump.Gauges, Sketches = jump.Sketches, ExpertHits = jump.ExpertHits,
            ExpertComputeNanoseconds = jump.ExpertComputeNanoseconds, LayerComputeNanoseconds = jump.LayerComputeNanoseconds,
            TierHits = jump.TierHits, TierMisses = jump.TierMisses, TierFetchNanoseconds = jump.TierFetchNanoseconds, RoutingDigests = jump.RoutingDigests,
        });

        await shard.ReportAsync(first);
        await shard.ReportAsync(first);
        await shard.ReportAsync([0xC1, 0x00]);
        await shard.ReportAsync(otherVersion);
        await shard.ReportAsync(jumped);

        Dictionary<string, double> after = await RejectedByReasonAsync();
        double Delta(string reason) => after.GetValueOrDefault(reason) - before.GetValueOrDefault(reason);
        Assert.Equal((1.0, 1.0, 1.0, 1.0), (Delta("duplicate"), Delta("malformed"), Delta("version"), Delta("sequence_jump")));
    }

    /// <summary>moe_telemetry_summaries_rejected_total summed over the in-process silos' ranks, by reason.</summary>
    static async Task<Dictionary<string, double>> RejectedByReasonAsync()
    {
        using var text = new MemoryStream();
        await Prometheus.Metrics.DefaultRegistry.CollectAndExportAsTextAsync(text);
        var byReason = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in System.Text.Encoding.UTF8.GetString(text.ToArray()).Split('\n'))
        {
            var m = System.Text.RegularExpressions.Regex.Match(line, @"^moe_telemetry_summaries_rejected_total\{.*reason=""([a-z_]+)"".*\} (\S+)$");
            if (m.Success) byReason[m.Groups[1].Value] = byReason.GetValueOrDefault(m.Groups[1].Value) + double.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return byReason;
    }

    // (request hash, layer << 32 | position, digest) for position 0 of every layer.
    static ulong[] Digests(Func<int, ulong> digest, ulong request = 1, int layers = 4) =>
        Enumerable.Range(0, layers).SelectMany(layer => new[] { 0xC0FFEE00UL + request, (ulong)layer << 32, digest(layer) }).ToArray();
}
