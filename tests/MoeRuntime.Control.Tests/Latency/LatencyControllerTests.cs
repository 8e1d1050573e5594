using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Planning;
using MoeRuntime.Control.Tests.Planning;
using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Control.Tests.Planning.Ranks;

namespace MoeRuntime.Control.Tests.Latency;

public sealed class LatencyControllerTests
{
    static readonly LatencyControllerOptions Options = new();

    [Fact]
    public void Promotes_by_miss_cost_per_byte_within_the_hot_budget_and_keeps_the_next_warm()
    {
        // Hot budget 1000 bytes. Per hot byte: B 8/400 > C 6/400 > A 10/800 > D 1/400.
        RankState rank = new(0, new TierBudgets(HotBytes: 1000, WarmBytes: 600),
        [
            Expert(0, Tier.Cold, uses: 10, hotBytes: 800, warmBytes: 400), // A
            Expert(1, Tier.Cold, uses: 8),                                  // B
            Expert(2, Tier.Cold, uses: 6),                                  // C
            Expert(3, Tier.Cold, uses: 1),                                  // D
            Expert(4, Tier.Cold, uses: 0),                                  // idle
        ]);
        var cold = new TierFetchStats(Fetches: 25, P50Seconds: 0.05, P95Seconds: 0.09, FetchedBytes: 25 * 200);

        TierPlan plan = new LatencyController(Options).Plan(Input(rank, cold: cold));

        Assert.Equal(
            [(Key(1), Tier.Hot), (Key(2), Tier.Hot), (Key(0), Tier.Warm), (Key(3), Tier.Warm)],
            plan.Moves.Select(m => (m.Expert, m.To)));
        double firstDemand = (1 - Math.Pow(0.5, 1 / Options.DemandHalfLifeIntervals)) * 8;
        Assert.Equal(firstDemand * 0.05, plan.Moves[0].Value, precision: 9); // demand × observed cold miss latency
    }

    [Fact]
    public void Pinned_experts_stay_put_and_count_against_the_budget()
    {
        RankState rank = Rank(2, 0,
            Expert(0, Tier.Hot, uses: 0, pinned: Tier.Hot),
            Expert(1, Tier.Cold, uses: 9),
            Expert(2, Tier.Cold, uses: 5),
            Expert(3, Tier.Cold, uses: 7, pinned: Tier.Cold));

        TierPlan plan = new LatencyController(Options).Plan(Input(rank));

        Assert.Equal([(Key(1), Tier.Hot)], plan.Moves.Select(m => (m.Expert, m.To)));
    }

    [Fact]
    public void Gives_hot_memory_back_while_latency_holds_with_margin_and_takes_it_again_over_target()
    {
        var experts = Enumerable.Range(0, 8).Select(e => Expert(e, Tier.Hot)).ToArray();
        var sim = new RankSimulation(Rank(8, 8, experts), new LatencyController(Options), new GuardrailOptions());
        long Uses(ExpertKey key) => 10 + key.Expert;
        var fast = new ObservedLatency(P95InterTokenSeconds: 0.02, P95TimeToFirstTokenSeconds: 0.3);

        for (int i = 0; i < 3; i++) sim.Step(Uses, fast);

        Assert.Equal(5, sim.State.InTier(Tier.Hot).Count);
        Assert.Equal([Key(0), Key(1), Key(2)], sim.State.InTier(Tier.Warm).OrderBy(k => k.Expert).ToArray()); // the least used went

        var justUnder = new ObservedLatency(0.09, 0.3); // under target, inside the margin: hold
        sim.Step(Uses, justUnder);
        Assert.Equal(5, sim.State.InTier(Tier.Hot).Count);

        var slow = new ObservedLatency(0.15, 0.3);
        sim.Step(Uses, slow);
        Assert.Equal(7, sim.State.InTier(Tier.Hot).Count); // grows by a quarter of the budget (2 experts)
        sim.Step(Uses, slow);
        Assert.Equal(8, sim.State.InTier(Tier.Hot).Count);
    }

    [Fact]
    public void Without_latency_measurements_the_whole_hot_budget_is_used()
    {
        var controller = new LatencyController(Options);
        RankState rank = Rank(2, 0, Expert(0, Tier.Cold, uses: 3), Expert(1, Tier.Cold, uses: 4), Expert(2, Tier.Cold, uses: 1));

        TierPlan plan = controller.Plan(Input(rank));

        Assert.Equal(2 * HotBytes, controller.HotAllowance(0));
        Assert.Equal([Key(1), Key(0)], plan.Moves.Select(m => m.Expert));
        Assert.All(plan.Moves, m => Assert.Equal(Tier.Hot, m.To));
    }

    [Theory]
    [InlineData(0.15, 1.0, 0.5)]   // over target: halve sampling
    [InlineData(0.15, 0.05, null)] // already at the floor
    [InlineData(0.02, 0.25, 0.5)]  // holds with margin: double back towards the base
    [InlineData(0.02, 1.0, null)]  // already at the base
    [InlineData(0.09, 0.25, null)] // inside the margin: leave it
    public void Lowers_telemetry_sampling_under_pressure_and_restores_it_after(double p95Itl, double current, double? expected)
    {
        RankState rank = Rank(1, 1, Expert(0, Tier.Hot, uses: 1));

        TierPlan plan = new LatencyController(Options).Plan(Input(rank, latency: new ObservedLatency(p95Itl, null), sampleRatio: current));

        Assert.Equal(expected, plan.RecommendedSampleRatio);
    }

    [Theory]
    [InlineData(0.1, 1)]  // with hysteresis the first holder keeps the slot
    [InlineData(0.0, 50)] // without it the two trade places again and again
    public void Hysteresis_stops_two_near_equal_experts_from_trading_the_hot_slot(double hysteresis, int bound)
    {
        var random = new Random(7);
        var sim = new RankSimulation(Rank(1, 0, Expert(0, Tier.Cold), Expert(1, Tier.Cold)),
            new LatencyController(Options), new GuardrailOptions { HysteresisRatio = hysteresis });

        int swaps = 0;
        for (int i = 0; i < 200; i++)
        {
            int leader = i % 2;
            long Uses(ExpertKey key) => (key.Expert == leader ? 100 : 97) + random.Next(-2, 3);
            TierPlan plan = sim.Step(Uses);
            if (plan.Moves.Any(m => m.From == Tier.Hot)) swaps++;
        }

        Assert.Single(sim.State.InTier(Tier.Hot));
        if (hysteresis > 0) Assert.True(swaps <= bound, $"{swaps} swaps");
        else Assert.True(swaps >= bound, $"only {swaps} swaps: the test would not see flapping");
    }

    [Fact]
    public void After_the_popular_set_shifts_the_hot_set_converges_to_it_within_a_bounded_number_of_intervals()
    {
        // 64 experts on the rank (2 layers × 32), starting all cold; hot budget half the experts, warm a quarter.
        const int experts = 64, hot = 32;
        var random = new Random(11);
        var keys = Enumerable.Range(0, experts).Select(i => new ExpertKey(ModelName, i / 32, i % 32)).ToArray();
        RankState start = new(0, new TierBudgets(hot * HotBytes, 16 * WarmBytes),
            [.. keys.Select(k => new ExpertState(k, Tier.Cold, HotBytes, WarmBytes, 0))]);
        var sim = new RankSimulation(start, new LatencyController(Options), new GuardrailOptions());

        int[] firstOrder = [.. Enumerable.Range(0, experts).OrderBy(_ => random.Next())];
        int[] secondOrder = [.. firstOrder.Skip(hot).Concat(firstOrder.Take(hot))]; // the unpopular half becomes popular
        Func<ExpertKey, long> Skewed(int[] order) => key =>
        {
            int popularity = Array.IndexOf(order, key.Layer * 32 + key.Expert);
            return popularity < hot ? (long)(200 / Math.Pow(popularity + 1, 0.8)) + random.Next(0, 3) : random.Next(0, 2);
        };
        HashSet<ExpertKey> Popular(int[] order) => [.. order.Take(hot).Select(i => keys[i])];

        int fill = IntervalsUntil(sim, Skewed(firstOrder), Popular(firstOrder), limit: 40);
        int shift = IntervalsUntil(sim, Skewed(secondOrder), Popular(secondOrder), limit: 40);

        // Starting cold: 32 promotions at 16 moves per interval take 2 intervals (+1 for the warm tier's share of the cap).
        Assert.InRange(fill, 1, 3);
        // After the shift the old favourites' demand must decay under the new ones' (half-life 3 intervals, the hottest
        // ran at 200 uses/interval and the weakest newcomer at ~12), then 32 swaps of up to 3 moves go at 16 moves/interval.
        Assert.InRange(shift, 1, 12); // measured: 9
        Assert.True(sim.State.InTier(Tier.Warm).Count > 0);
    }

    /// <summary>Steps until the hot set is <paramref name="popular"/>; returns how many intervals that took.</summary>
    static int IntervalsUntil(RankSimulation sim, Func<ExpertKey, long> uses, HashSet<ExpertKey> popular, int limit)
    {
        for (int interval = 1; interval <= limit; interval++)
        {
            sim.Step(uses);
            if (sim.State.InTier(Tier.Hot).SetEquals(popular)) return interval;
        }
        return int.MaxValue;
    }

    public static TheoryData<LatencyControllerOptions, string> BadOptions => new()
    {
        { new() { TargetP95InterTokenSeconds = 0 }, nameof(LatencyControllerOptions.TargetP95InterTokenSeconds) },
        { new() { TargetP95TimeToFirstTokenSeconds = -1 }, nameof(LatencyControllerOptions.TargetP95TimeToFirstTokenSeconds) },
        { new() { GiveBackMargin = 1 }, nameof(LatencyControllerOptions.GiveBackMargin) },
        { new() { GrowStep = 0 }, nameof(LatencyControllerOptions.GrowStep) },
        { new() { ShrinkStep = 1.5 }, nameof(LatencyControllerOptions.ShrinkStep) },
        { new() { MinHotShare = -0.1 }, nameof(LatencyControllerOptions.MinHotShare) },
        { new() { DemandHalfLifeIntervals = 0 }, nameof(LatencyControllerOptions.DemandHalfLifeIntervals) },
        { new() { MinDemand = double.NaN }, nameof(LatencyControllerOptions.MinDemand) },
        { new() { FetchPriors = new FetchPriors(WarmSeconds: 0.03, ColdSeconds: 0.02) }, nameof(FetchPriors.ColdSeconds) },
        { new() { MinSampleRatio = 0.5, BaseSampleRatio = 0.25 }, nameof(LatencyControllerOptions.MinSampleRatio) },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Rejects_options_out_of_range_naming_the_option(LatencyControllerOptions options, string name)
    {
        var error = Assert.Throws<ArgumentException>(() => new LatencyController(options));
        Assert.Equal(name, error.ParamName);
        Assert.Contains(name, error.Message);
    }
}
