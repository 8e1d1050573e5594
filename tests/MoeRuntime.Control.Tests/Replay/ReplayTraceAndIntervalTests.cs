using MoeRuntime.Control.Replay;
using MoeRuntime.Control.Tests.Traces;
using MoeRuntime.Traces;

namespace MoeRuntime.Control.Tests.Replay;

public class ReplayTraceAndIntervalTests
{
    [Fact]
    public async Task Loading_a_trace_unions_each_steps_records_per_layer()
    {
        using var files = new TraceFiles();
        string path = files.Path("t.jsonl");
        await using (var writer = RoutingTraceWriter.Create(path, TraceFiles.Header(layers: 2, experts: 4)))
        {
            writer.Write(0, 1UL, 0, [0, 1], 2, [3, 1, 1, 0], []);
            writer.Write(0, 2UL, 0, [0], 2, [1, 2], []);
            writer.Write(0, 1UL, 1, [0, 1], 2, [0, 2, 2, 0], []);
            writer.Write(4, 1UL, 0, [2], 2, [3, 0], []);    // step numbers need not be dense
        }
        ReplayTrace trace = ReplayTrace.Load(path);
        Assert.Equal(2, trace.Steps);
        Assert.Equal([0, 1, 2, 3], trace.Needed(0, 0).ToArray());
        Assert.Equal([1, 3, 1, 1], trace.Tokens(0, 0).ToArray());
        Assert.Equal([0, 2], trace.Needed(0, 1).ToArray());
        Assert.Equal([0, 3], trace.Needed(1, 0).ToArray());
        Assert.True(trace.Needed(1, 1).IsEmpty);
        Assert.Equal(8, trace.Accesses);
        Assert.Equal(1000, trace.ExpertBytes);
    }

    /// <summary>Promotes the interval's most used experts: the shape of an interval-driven controller.</summary>
    sealed class PlanningPolicy : ReplayPolicy
    {
        public List<ReplayInterval> Intervals { get; } = [];
        public override string Name => "planning";
        public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time) => candidates[0];

        public override void IntervalEnded(ReplayInterval interval, HotSetEditor hot)
        {
            Intervals.Add(interval);
            for (int l = 0; l < interval.Layers; l++)
            {
                int[] wanted = Enumerable.Range(0, interval.Experts).OrderByDescending(e => interval.Accesses[l * interval.Experts + e])
                    .Take(hot.CapacityPerLayer).ToArray();
                foreach (int e in hot.Hot(l).ToArray())
                    if (!wanted.Contains(e)) Assert.True(hot.Demote(l, e));
                foreach (int e in wanted) hot.Promote(l, e);
                Assert.All(wanted, e => Assert.True(hot.IsHot(l, e)));
            }
        }
    }

    [Fact]
    public void Intervals_carry_the_use_counts_and_planned_moves_are_counted()
    {
        ReplayTrace trace = MixtralLikeTraces.Random(3, steps: 100, layers: 2, experts: 5);
        var policy = new PlanningPolicy();
        ReplayResult r = ReplaySimulator.Replay(trace, policy, new ReplayOptions { CapacityPerLayer = 2, IntervalSteps = 30, ExpertBytes = 7 });
        Assert.Equal([0, 30, 60], policy.Intervals.Select(i => i.FirstStep));
        Assert.All(policy.Intervals, i => Assert.Equal(30, i.Steps));
        long counted = policy.Intervals.Sum(i => (long)i.Accesses.Sum());
        long expected = 0;
        for (int s = 0; s < 90; s++)
            for (int l = 0; l < 2; l++) expected += trace.Needed(s, l).Length;
        Assert.Equal(expected, counted);
        Assert.True(r.PlannedFetches > 0);
        Assert.Equal((r.Misses + r.PlannedFetches) * 7, r.BytesMoved);
    }

    [Fact]
    public void A_policy_that_names_a_protected_or_cold_victim_is_stopped()
    {
        ReplayTrace trace = ReplayTrace.FromSteps(1, 3, [[[0]], [[1]], [[2]]]);
        var e = Assert.Throws<InvalidOperationException>(() => ReplaySimulator.Replay(trace, new BadPolicy(), new ReplayOptions { CapacityPerLayer = 2 }));
        Assert.Contains("not a candidate", e.Message);
    }

    sealed class BadPolicy : ReplayPolicy
    {
        public override string Name => "bad";
        public override int ChooseVictim(int layer, ReadOnlySpan<int> candidates, long time) => 2;
    }

    [Fact]
    public void Options_are_checked()
    {
        ReplayTrace trace = ReplayTrace.FromSteps(1, 3, [[[0]]]);
        Assert.Throws<ArgumentException>(() => ReplaySimulator.Replay(trace, new LruPolicy(), new ReplayOptions { CapacityPerLayer = 0 }));
        Assert.Throws<ArgumentException>(() => ReplaySimulator.Replay(trace, new LruPolicy(), new ReplayOptions { CapacityPerLayer = 1, PrefetchAccuracy = 1.5 }));
        Assert.Throws<ArgumentException>(() => ReplaySimulator.Replay(trace, new LruPolicy(), new ReplayOptions { CapacityPerLayer = 1, FetchMilliseconds = double.NaN }));
    }
}
