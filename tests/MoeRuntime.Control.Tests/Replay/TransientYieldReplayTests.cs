using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Replay;

namespace MoeRuntime.Control.Tests.Replay;

/// <summary>
/// The controllers' policy is never worse than LRU (issue 18), on skewed routing (the built-in model's shape) and on
/// nearly balanced routing with short-range reuse (the published Mixtral traces' shape), at the runtime's interval
/// (32 steps) and at 1-step intervals, capacities 2-6 of 8. On the recorded traces (docs/routing-traces.md) it is at or
/// above LRU everywhere; on these synthetic ones it may trail by noise (at most 0.14 points measured), so the bound
/// here is LRU less a quarter of a point, where without the rule it trailed by up to 2.5.
/// </summary>
public sealed class TransientYieldReplayTests
{
    static double HitRate(ReplayTrace trace, IReplayPolicy policy, int capacity, int intervalSteps) =>
        ReplaySimulator.Replay(trace, policy, new ReplayOptions { CapacityPerLayer = capacity, ExpertBytes = trace.ExpertBytes ?? 0, IntervalSteps = intervalSteps }).HitRate;

    // Skewed: Zipf 1.1 popularity. Balanced: Zipf 0.3 (the busiest of 8 experts takes about a fifth of the tokens) and
    // a token keeping an expert of the previous token 40 % of the time.
    static ReplayTrace Skewed(int seed) => MixtralLikeTraces.Generate(seed, steps: 1000);
    static ReplayTrace Balanced(int seed) => MixtralLikeTraces.Generate(seed, steps: 1000, zipf: 0.3, locality: 0.4);

    const double Tolerance = 0.0025;

    public static TheoryData<string, int, int> Cases()
    {
        var data = new TheoryData<string, int, int>();
        foreach (string shape in new[] { "skewed", "balanced" })
            foreach (int interval in new[] { 1, 32 })
                for (int capacity = 2; capacity <= 6; capacity++)
                    data.Add(shape, interval, capacity);
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_controllers_policy_is_never_under_lru(string shape, int intervalSteps, int capacity)
    {
        foreach (int seed in new[] { 1, 2 })
        {
            ReplayTrace trace = shape == "skewed" ? Skewed(seed) : Balanced(seed);
            double lru = HitRate(trace, new LruPolicy(), capacity, intervalSteps);
            double controller = HitRate(trace, new ControllerReplayPolicy(), capacity, intervalSteps);
            Assert.True(controller >= lru - Tolerance, $"{shape} seed {seed}, interval {intervalSteps}, capacity {capacity}: controller {controller:P2} under LRU {lru:P2}");
        }
    }

    [Fact]
    public void Without_the_rule_the_planned_slot_costs_hits_on_balanced_routing()
    {
        // What the rule fixes: at 2 of 8 the one planned slot halves the room for recent experts.
        var off = new ControllerReplayOptions { Latency = new LatencyControllerOptions { DemandHalfLifeIntervals = 32, TransientYield = false }, KeepDemotedCopies = false };
        double lru = 0, without = 0, with = 0;
        foreach (int seed in new[] { 1, 2 })
        {
            ReplayTrace trace = Balanced(seed);
            lru += HitRate(trace, new LruPolicy(), 2, 1);
            without += HitRate(trace, new ControllerReplayPolicy(off), 2, 1);
            with += HitRate(trace, new ControllerReplayPolicy(), 2, 1);
        }
        Assert.True(with - without >= 0.005, $"with the rule {with / 2:P2}, without {without / 2:P2}, LRU {lru / 2:P2}");
        Assert.True(without < lru - 2 * Tolerance, $"without the rule {without / 2:P2}, LRU {lru / 2:P2}");
    }

    [Fact]
    public void The_decayed_lfu_is_listed_remembers_recent_popularity_and_validates_its_half_life()
    {
        Assert.Contains(ReplayPolicies.DecayedLfu, ReplayPolicies.Available);
        Assert.IsType<DecayedLfuPolicy>(ReplayPolicies.Create("dlfu"));
        Assert.Throws<ArgumentException>(() => new DecayedLfuPolicy(0));
        Assert.Throws<ArgumentException>(() => new DecayedLfuPolicy(double.NaN));
        // One layer of 3 experts, capacity 2: expert 0 used often long ago, expert 1 recently; 2 arrives and must evict.
        var steps = new List<IReadOnlyList<int>[]>();
        for (int i = 0; i < 6; i++) steps.Add([new[] { 0 }]);
        for (int i = 0; i < 3; i++) steps.Add([new[] { 1 }]);
        steps.Add([new[] { 2 }]);
        steps.Add([new[] { 0 }]);
        ReplayTrace trace = ReplayTrace.FromSteps(1, 3, steps);
        ReplayResult shortMemory = ReplaySimulator.Replay(trace, new DecayedLfuPolicy(1), new ReplayOptions { CapacityPerLayer = 2 });
        ReplayResult longMemory = ReplaySimulator.Replay(trace, new DecayedLfuPolicy(1000), new ReplayOptions { CapacityPerLayer = 2 });
        // A long half-life keeps expert 0 (five earlier uses) and hits it at the end; a short one has forgotten it.
        Assert.Equal(longMemory.Hits, shortMemory.Hits + 1);
    }
}
