namespace MoeRuntime.Grains;

/// <summary>
/// Merges the summaries of the ranks assigned to it (rank mod shard count) and forwards its merge to
/// the cluster aggregator, so the cluster aggregator's work grows with shards, not ranks. Digests are
/// partitioned by request instead, so that every report of one token meets at one shard.
/// </summary>
public interface IShardAggregatorGrain : IGrainWithIntegerKey
{
    /// <summary>One rank's summary, encoded by the rank's summary codec; decoded here as untrusted input.</summary>
    Task ReportAsync(byte[] summary);

    /// <summary>Routing digests of tokens whose request hashes to this shard: (request, layer &lt;&lt; 32 | position, digest) triples.</summary>
    Task ReportDigestsAsync(string rank, ulong[] triples);

    /// <summary>One rank's view over a window (20s, 1m, 5m, 1h) as UTF-8 JSON.</summary>
    Task<byte[]> GetRankViewAsync(string rank, string window);
}

/// <summary>The one cluster-wide merge: windows, SLOs, mismatches; what dashboards and controllers read.</summary>
public interface IClusterAggregatorGrain : IGrainWithIntegerKey
{
    Task ReportShardAsync(ShardReport report);

    /// <summary>The cluster's view over a window (20s, 1m, 5m, 1h) as UTF-8 JSON.</summary>
    Task<byte[]> GetViewAsync(string window);
}

/// <summary>What a shard merged since its previous report.</summary>
[GenerateSerializer, Immutable, Alias("moe.ShardReport")]
public sealed record ShardReport
{
    [Id(0)] public int Shard { get; init; }
    /// <summary>The shard's merge as an encoded summary (same codec as ranks).</summary>
    [Id(1)] public required byte[] Delta { get; init; }
    [Id(2)] public string[] LiveRanks { get; init; } = [];
    [Id(3)] public string[] StaleRanks { get; init; } = [];
    [Id(4)] public long SummariesRejected { get; init; }
    [Id(5)] public long DigestsCompared { get; init; }
    [Id(6)] public MismatchReport[] Mismatches { get; init; } = [];
}

/// <summary>Tokens two ranks routed differently at one layer since the previous report, with the latest example.</summary>
[GenerateSerializer, Immutable, Alias("moe.MismatchReport")]
public sealed record MismatchReport(
    [property: Id(0)] int Layer, [property: Id(1)] string RankA, [property: Id(2)] string RankB, [property: Id(3)] long Count,
    [property: Id(4)] int TokenPosition, [property: Id(5)] ulong DigestA, [property: Id(6)] ulong DigestB, [property: Id(7)] DateTimeOffset At);
