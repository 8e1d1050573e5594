using Microsoft.Extensions.Logging.Abstractions;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Control.Tests.Planning;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Loop;

public sealed class TierControlLoopTests
{
    // Targets p95 ITL 0.1 s: 0.01 s holds with margin (gives memory back), 0.5 s is over target (takes more).
    static readonly ObservedLatency Fast = new(0.01, 0.05), Slow = new(0.5, 0.05);

    readonly FakeTierControlPort _port = new();
    readonly ManualTime _time = new();

    TierControlLoop Loop(TierControlLoopOptions? options = null) =>
        new("m", options ?? new TierControlLoopOptions(), _port, _time, NullLogger.Instance);

    async Task RunAsync(TierControlLoop loop)
    {
        _time.Advance(Ranks.Interval);
        await loop.RunAsync();
        Assert.Null(loop.LastError);
    }

    /// <summary>Every expert of the rank counted <paramref name="uses"/> more acquisitions.</summary>
    static void Use(FakeRank rank, long uses)
    {
        foreach (ExpertKey key in rank.Uses.Keys) rank.Uses[key] += uses;
    }

    [Fact]
    public async Task ARankWhoseTierSetChangedMeanwhileIsSkippedAndPlannedAfreshNextInterval()
    {
        var rank = _port.Ranks[0] = new FakeRank(6);
        Use(rank, 20);
        // An operator writes a version between the loop's read and its write.
        _port.AfterRead = r => r.Version++;
        TierControlLoop loop = Loop();
        await RunAsync(loop);

        Assert.Single(_port.Writes);
        Assert.Equal(1, _port.Writes[0].Write.ExpectedVersion);
        Assert.All(rank.Tiers.Values, t => Assert.Equal(Tier.Cold, t));
        Assert.Equal(2, rank.Version);
        Assert.Equal(1, loop.Ranks.Single().TierSetVersion);
        // Nothing the latency controller admitted counts as applied, and the cost controller did not plan on stale state.
        Assert.DoesNotContain(_port.Records, r => r.Decision.Outcome == DecisionOutcome.Applied);
        Assert.Contains(_port.Records, r => r.Decision.Outcome == DecisionOutcome.Refused && r.Decision.Reason.Contains("not written", StringComparison.Ordinal));
        Assert.DoesNotContain(_port.Records, r => r.Decision.Controller == "cost");

        _port.AfterRead = null;
        Use(rank, 20);
        await RunAsync(loop);
        Assert.Equal(2, _port.Writes[1].Write.ExpectedVersion);
        Assert.Contains(Tier.Hot, rank.Tiers.Values);
        Assert.Equal(rank.Version, loop.Ranks.Single().TierSetVersion);
    }

    [Fact]
    public async Task AWriteNamesTheRanksThatCalledNoExpertInTheirLastInterval()
    {
        FakeRank zero = _port.Ranks[0] = new FakeRank(6), one = _port.Ranks[1] = new FakeRank(6);
        TierControlLoop loop = Loop();
        await RunAsync(loop);
        Assert.Empty(_port.Writes);

        // Rank 0 serves again; rank 1, read after it, stays idle: rank 0's write knows rank 1 only from the last interval.
        Use(zero, 20);
        await RunAsync(loop);
        Assert.Equal([1], _port.Writes.Single().Write.IdleRanks);

        Use(one, 20);
        await RunAsync(loop);
        (int rank, TierSetWrite write) = _port.Writes.Last();
        Assert.Equal(1, rank);
        Assert.Equal([0], write.IdleRanks.Order());
    }

    [Fact]
    public async Task CountersThatGoBackwardsCountAsARestart()
    {
        var rank = _port.Ranks[0] = new FakeRank(2);
        TierControlLoop loop = Loop();
        (rank.Hits, rank.ColdFetches) = (100, 0);
        await RunAsync(loop);
        Assert.Equal(1.0, loop.Ranks.Single().HitRatio);

        // 50 hits and 50 fetches since the last read.
        (rank.Hits, rank.ColdFetches) = (150, 50);
        await RunAsync(loop);
        Assert.Equal(0.5, loop.Ranks.Single().HitRatio);

        // The rank restarted: its totals are all this interval's (10 hits of 40), not a negative difference.
        (rank.Hits, rank.ColdFetches) = (10, 30);
        await RunAsync(loop);
        Assert.Equal(0.25, loop.Ranks.Single().HitRatio);
    }

    [Fact]
    public async Task TheHotLimitRisesAtOnce()
    {
        // Ceiling 10 experts, limit at 2: with no latency measured the allowance is the whole plan budget.
        var rank = _port.Ranks[0] = new FakeRank(10) { HotLimitBytes = 2_000 };
        await RunAsync(Loop());
        Assert.Equal(10_000, rank.HotLimitBytes);
        Assert.Equal(10_000, _port.Writes.Single().Write.HotLimitBytes);
    }

    [Fact]
    public async Task TheHotLimitFallsByAtMostTheShrinkStepPerInterval()
    {
        // Idle cold experts and latency under target with margin: the allowance drops to nothing in one interval,
        // the limit (one expert's room) only by 5 % of the ceiling per interval.
        var rank = _port.Ranks[0] = new FakeRank(10);
        _port.Latency = Fast;
        TierControlLoop loop = Loop(new TierControlLoopOptions { Latency = new LatencyControllerOptions { ShrinkStep = 0.05 } });
        var limits = new List<long> { rank.HotLimitBytes };
        for (int i = 0; i < 20; i++)
        {
            await RunAsync(loop);
            limits.Add(rank.HotLimitBytes);
            Assert.Equal(0, loop.Ranks.Single().HotAllowanceBytes);
        }
        Assert.All(limits.Zip(limits.Skip(1)), p => Assert.InRange(p.First - p.Second, 0, 500));
        Assert.Equal(9_500, limits[1]);
        Assert.Equal(1_000, limits[^1]);

        // Over target again: the limit follows the grown allowance up in one interval.
        _port.Latency = Slow;
        Use(rank, 20);
        await RunAsync(loop);
        Assert.True(rank.HotLimitBytes - limits[^1] > 500, $"the limit rose from {limits[^1]} to {rank.HotLimitBytes} only");
    }

    [Fact]
    public async Task APinIsNeverMoved()
    {
        // Expert 0 is pinned hot but idle; the others are busy. Latency under target wants memory back, then over target wants more.
        var rank = _port.Ranks[0] = new FakeRank(6);
        ExpertKey pinned = Ranks.Key(0), pinnedWarm = Ranks.Key(5);
        rank.Tiers[pinned] = Tier.Hot;
        rank.Tiers[pinnedWarm] = Tier.Warm;
        _port.PinnedTiers[pinned] = Tier.Hot;
        _port.PinnedTiers[pinnedWarm] = Tier.Warm;
        TierControlLoop loop = Loop();
        for (int i = 0; i < 12; i++)
        {
            _port.Latency = i < 6 ? Fast : Slow;
            foreach (ExpertKey key in rank.Uses.Keys.Where(k => k != pinned)) rank.Uses[key] += 20;
            await RunAsync(loop);
        }
        Assert.Contains(_port.Writes, w => w.Write.Tiers.Count > 0);
        Assert.DoesNotContain(_port.Writes, w => w.Write.Tiers.ContainsKey(pinned.ToString()) || w.Write.Tiers.ContainsKey(pinnedWarm.ToString()));
        Assert.Equal(Tier.Hot, rank.Tiers[pinned]);
        Assert.Equal(Tier.Warm, rank.Tiers[pinnedWarm]);
    }

    [Fact]
    public async Task ADryRunProposesAndWritesNothing()
    {
        var rank = _port.Ranks[0] = new FakeRank(6) { HotLimitBytes = 2_000 };
        Use(rank, 20);
        TierControlLoop loop = Loop();
        loop.DryRun = true;
        await RunAsync(loop);
        Assert.Empty(_port.Writes);
        Assert.Contains(_port.Records, r => r.Decision.Outcome == DecisionOutcome.Proposed && r.Decision.Change.StartsWith("hot limit", StringComparison.Ordinal));
        Assert.DoesNotContain(_port.Records, r => r.Version is not null);
    }

    // The live scenario's rank once its load has ended, through the real loop and both controllers: 16 experts of the
    // built-in model's size (3 MiB), a hot ceiling of 8 (24 MiB), warm room for all, no latency measured (the hot
    // allowance held), ten intervals of skewed traffic, then none (or one expert's trickle). Before the fix the latency
    // controller re-promoted, every other interval, the experts the cost controller had just demoted as their demand
    // decayed through the band between the latency controller's minimum demand and the cost controller's break-even.

    const long QuietExpertBytes = 3_145_728;
    const int WarmUp = 10, Intervals = 70;

    FakeRank QuietRank() => _port.Ranks[0] = new FakeRank(16)
    {
        ExpertHotBytes = QuietExpertBytes, ExpertWarmBytes = QuietExpertBytes,
        HotCeilingBytes = 8 * QuietExpertBytes, HotLimitBytes = 8 * QuietExpertBytes, WarmBudgetBytes = 256L << 20,
    };

    /// <summary>Runs the intervals; returns each interval's tiers after it, and the writes made from the first quiet one on.</summary>
    async Task<(List<Dictionary<ExpertKey, Tier>> Tiers, int QuietWrites)> RunQuietAsync(FakeRank rank, long trickle)
    {
        TierControlLoop loop = Loop();
        var tiers = new List<Dictionary<ExpertKey, Tier>>();
        int quietFrom = 0;
        for (int i = 0; i < Intervals; i++)
        {
            if (i < WarmUp)
                foreach (ExpertKey key in rank.Uses.Keys.ToList()) rank.Uses[key] += (16 - key.Expert) * 20;
            else
                rank.Uses[Ranks.Key(15)] += trickle;
            if (i == WarmUp) quietFrom = _port.Writes.Count;
            _time.Advance(Ranks.Interval);
            await loop.RunAsync();
            Assert.Null(loop.LastError);
            tiers.Add(new Dictionary<ExpertKey, Tier>(rank.Tiers));
        }
        return (tiers, _port.Writes.Count - quietFrom);
    }

    [Fact]
    public async Task AnIdleRankKeepsItsTierSet()
    {
        FakeRank rank = QuietRank();
        (List<Dictionary<ExpertKey, Tier>> tiers, int quietWrites) = await RunQuietAsync(rank, trickle: 0);

        Assert.Equal(7, tiers[WarmUp - 1].Values.Count(t => t == Tier.Hot));
        Assert.Equal(0, quietWrites);
        Assert.All(tiers.Skip(WarmUp), t => Assert.Equal(tiers[WarmUp - 1], t));
        ControlDecision last = _port.Records.Select(r => r.Decision).Last(d => d.Controller == "latency" && d.Rank == 0);
        Assert.Contains("TierSet held", last.Reason, StringComparison.Ordinal);
        Assert.Equal(1, last.Inputs["idle"]);
    }

    [Fact]
    public async Task AnExpertTheCostControllerDemotedIsNotPromotedBackAsItsDemandDecays()
    {
        FakeRank rank = QuietRank();
        // One expert keeps a trickle of calls, so the rank is not idle and the others' demand decays through the band.
        (List<Dictionary<ExpertKey, Tier>> tiers, int quietWrites) = await RunQuietAsync(rank, trickle: 2);

        Assert.Contains(_port.Writes, w => w.Write.ChangedBy == "controller:cost");
        // Every write in order from the tiers at the end of the warm-up: the latency controller's promotion and the cost
        // controller's demotion of the same expert cancel within an interval, so the tiers between intervals hide it.
        var current = new Dictionary<ExpertKey, Tier>(tiers[WarmUp - 1]);
        foreach (var (_, write) in _port.Writes.Skip(_port.Writes.Count - quietWrites))
            foreach (var (name, tierName) in write.Tiers)
            {
                ExpertKey key = ExpertKey.Parse(name);
                Tier to = Enum.Parse<Tier>(tierName, ignoreCase: true);
                Assert.False(key != Ranks.Key(15) && to < current[key],
                    $"{write.ChangedBy} promoted {key} {current[key]} → {to}, its demand only decaying");
                current[key] = to;
            }
    }
}
