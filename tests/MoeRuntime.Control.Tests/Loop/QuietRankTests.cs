using Microsoft.Extensions.Logging.Abstractions;
using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;
using MoeRuntime.Control.Tests.Planning;
using MoeRuntime.Serving.Tiers;
using Xunit.Abstractions;

namespace MoeRuntime.Control.Tests.Loop;

/// <summary>
/// The live scenario's rank once its load has ended, through the real loop and both controllers: 16 experts of the
/// built-in model's size (3 MiB), a hot ceiling of 8 (24 MiB), warm room for all, no latency measured (the hot
/// allowance held), ten intervals of skewed traffic, then none (or one expert's trickle). Before the fix the latency
/// controller re-promoted, every other interval, the experts the cost controller had just demoted as their demand
/// decayed through the band between the latency controller's minimum demand and the cost controller's break-even.
/// </summary>
public sealed class QuietRankTests(ITestOutputHelper output)
{
    const long ExpertBytes = 3_145_728;
    const int WarmUp = 10, Intervals = 70;

    readonly FakeTierControlPort _port = new();
    readonly ManualTime _time = new();

    FakeRank Rank() => _port.Ranks[0] = new FakeRank(16)
    {
        ExpertHotBytes = ExpertBytes, ExpertWarmBytes = ExpertBytes,
        HotCeilingBytes = 8 * ExpertBytes, HotLimitBytes = 8 * ExpertBytes, WarmBudgetBytes = 256L << 20,
    };

    /// <summary>Runs the intervals; returns each interval's tiers after it, and the writes made from the first quiet one on.</summary>
    async Task<(List<Dictionary<ExpertKey, Tier>> Tiers, int QuietWrites)> RunAsync(FakeRank rank, long trickle)
    {
        var loop = new TierControlLoop("m", new TierControlLoopOptions(), _port, _time, NullLogger.Instance);
        var tiers = new List<Dictionary<ExpertKey, Tier>>();
        int quietFrom = 0;
        for (int i = 0; i < Intervals; i++)
        {
            if (i < WarmUp)
                foreach (ExpertKey key in rank.Uses.Keys.ToList()) rank.Uses[key] += (16 - key.Expert) * 20;
            else
                rank.Uses[Ranks.Key(15)] += trickle;
            if (i == WarmUp) quietFrom = _port.Writes.Count;
            int before = _port.Writes.Count;
            _time.Advance(Ranks.Interval);
            await loop.RunAsync();
            Assert.Null(loop.LastError);
            tiers.Add(new Dictionary<ExpertKey, Tier>(rank.Tiers));
            foreach (var (_, write) in _port.Writes.Skip(before))
                output.WriteLine($"interval {i}: {write.ChangedBy} {string.Join(", ", write.Tiers.Select(t => $"{t.Key}={t.Value}"))}");
        }
        return (tiers, _port.Writes.Count - quietFrom);
    }

    [Fact]
    public async Task AnIdleRankKeepsItsTierSet()
    {
        FakeRank rank = Rank();
        (List<Dictionary<ExpertKey, Tier>> tiers, int quietWrites) = await RunAsync(rank, trickle: 0);

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
        FakeRank rank = Rank();
        // One expert keeps a trickle of calls, so the rank is not idle and the others' demand decays through the band.
        (List<Dictionary<ExpertKey, Tier>> tiers, int quietWrites) = await RunAsync(rank, trickle: 2);

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
