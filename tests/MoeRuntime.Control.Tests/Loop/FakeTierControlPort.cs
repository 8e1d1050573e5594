using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Control.Tests.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Loop;

/// <summary>One rank's TierSet and cumulative counters as the fake port keeps them; every expert takes 1000 hot and 500 warm bytes unless set.</summary>
sealed class FakeRank
{
    public long ExpertHotBytes { get; init; } = 1000;
    public long ExpertWarmBytes { get; init; } = 500;

    public long Version { get; set; } = 1;
    public long HotCeilingBytes { get; set; } = 10_000;
    public long HotLimitBytes { get; set; } = 10_000;
    public long WarmBudgetBytes { get; set; } = 10_000;
    public Dictionary<ExpertKey, Tier> Tiers { get; } = [];
    public Dictionary<ExpertKey, long> Uses { get; } = [];
    public long Hits { get; set; }
    public long ColdFetches { get; set; }

    public FakeRank(int experts)
    {
        for (int e = 0; e < experts; e++)
        {
            Tiers[Ranks.Key(e)] = Tier.Cold;
            Uses[Ranks.Key(e)] = 0;
        }
    }

    public RankReading Read() => new(Version, HotLimitBytes, HotCeilingBytes, WarmBudgetBytes,
        [.. Tiers.Select(t => new ExpertHolding(t.Key, t.Value, ExpertHotBytes, ExpertWarmBytes))],
        new RankCounters(Hits, 0, ColdFetches, 0, ColdFetches * 0.01, 0, ColdFetches * ExpertHotBytes, new Dictionary<ExpertKey, long>(Uses)),
        []);
}

/// <summary>An <see cref="ITierControlPort"/> over dictionaries: TierSets that check the version a write expects, pins, latency and a record list.</summary>
sealed class FakeTierControlPort : ITierControlPort
{
    public Dictionary<int, FakeRank> Ranks { get; } = [];
    public Dictionary<ExpertKey, Tier> PinnedTiers { get; } = [];
    public ObservedLatency Latency { get; set; } = ObservedLatency.None;
    /// <summary>The largest layer PSI of routing drift the cluster view carries; null none.</summary>
    public double? RoutingPsi { get; set; }
    /// <summary>Every write the loop tried, refused ones too.</summary>
    public List<(int Rank, TierSetWrite Write)> Writes { get; } = [];
    public List<ControlRecord> Records { get; } = [];
    /// <summary>Runs after a rank is read: what happens to its TierSet "meanwhile", before the loop writes.</summary>
    public Action<FakeRank>? AfterRead { get; set; }
    SamplingSetting _sampling = new(0, 1);

    public IReadOnlyList<int> LiveRanks() => [.. Ranks.Keys.Order()];

    public IReadOnlyDictionary<ExpertKey, Tier> Pins() => PinnedTiers;

    public SamplingSetting Sampling() => _sampling;

    public Task<ClusterReading> ReadClusterAsync(TimeSpan interval, CancellationToken cancellationToken) =>
        Task.FromResult(new ClusterReading(Latency, 1000, RoutingPsi));

    public Task<RankReading> ReadRankAsync(int rank, CancellationToken cancellationToken)
    {
        RankReading read = Ranks[rank].Read();
        AfterRead?.Invoke(Ranks[rank]);
        return Task.FromResult(read);
    }

    public Task<long> WriteAsync(int rank, TierSetWrite write, CancellationToken cancellationToken)
    {
        Writes.Add((rank, write));
        FakeRank r = Ranks[rank];
        if (write.ExpectedVersion != r.Version)
            throw new TierWriteRefusedException($"the TierSet is at version {r.Version}, the change was computed against {write.ExpectedVersion}");
        foreach (var (key, tier) in write.Tiers)
            r.Tiers[ExpertKey.Parse(key)] = Enum.Parse<Tier>(tier, ignoreCase: true);
        if (write.HotLimitBytes is { } limit) r.HotLimitBytes = limit;
        return Task.FromResult(++r.Version);
    }

    public Task SetSamplingAsync(SamplingChange sampling, CancellationToken cancellationToken)
    {
        _sampling = new SamplingSetting(sampling.Version, sampling.Ratio);
        return Task.CompletedTask;
    }

    public Task<ControlRecord?> BalanceAsync(bool dryRun, CancellationToken cancellationToken) => Task.FromResult<ControlRecord?>(null);

    public Task RecordAsync(IReadOnlyList<ControlRecord> records, CancellationToken cancellationToken)
    {
        Records.AddRange(records);
        return Task.CompletedTask;
    }
}

/// <summary>A clock the test moves.</summary>
sealed class ManualTime : TimeProvider
{
    DateTimeOffset _now = Ranks.Start;

    public override DateTimeOffset GetUtcNow() => _now;

    public void Advance(TimeSpan by) => _now += by;
}
