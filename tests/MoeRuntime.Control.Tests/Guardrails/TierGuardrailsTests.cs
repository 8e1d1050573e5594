using MoeRuntime.Control.Guardrails;
using MoeRuntime.Control.Latency;
using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Control.Tests.Planning.Ranks;

namespace MoeRuntime.Control.Tests.Guardrails;

public sealed class TierGuardrailsTests
{
    static TierPlan Plan(params TierMove[] moves) => new("test", 0, Start, moves, []);

    static TierMove Move(int expert, Tier from, Tier to, double value = 1) => new(Key(expert), from, to, value, "because");

    static IEnumerable<(ExpertKey, Tier)> Moves(TierPlan plan) => plan.Moves.Select(m => (m.Expert, m.To));

    [Fact]
    public void Moves_touching_a_pinned_expert_are_refused_with_the_reason()
    {
        RankState rank = Rank(2, 2, Expert(0, Tier.Hot, pinned: Tier.Hot), Expert(1, Tier.Cold));

        TierPlan admitted = TierGuardrails.Apply(Plan(Move(0, Tier.Hot, Tier.Cold), Move(1, Tier.Cold, Tier.Hot)), rank, new GuardrailOptions());

        Assert.Equal([(Key(1), Tier.Hot)], Moves(admitted));
        ControlDecision refused = Assert.Single(admitted.Decisions, d => d.Outcome == DecisionOutcome.Refused);
        Assert.Equal("m/0/0 hot→cold", refused.Change);
        Assert.Contains("pinned to hot", refused.Reason);
    }

    [Fact]
    public void Dry_run_only_proposes()
    {
        RankState rank = Rank(2, 2, Expert(0, Tier.Cold), Expert(1, Tier.Cold));
        var summary = new ControlDecision(Start, "test", 0, new Dictionary<string, double>(), "two promotions", "demand", DecisionOutcome.Proposed);
        TierPlan plan = Plan(Move(0, Tier.Cold, Tier.Hot), Move(1, Tier.Cold, Tier.Warm)) with { Decisions = [summary] };

        TierPlan admitted = TierGuardrails.Apply(plan, rank, new GuardrailOptions { DryRun = true });

        Assert.Empty(admitted.Moves);
        Assert.Equal(3, admitted.Decisions.Count);
        Assert.All(admitted.Decisions, d => Assert.Equal(DecisionOutcome.Proposed, d.Outcome));
        Assert.Equal(["two promotions", "m/0/0 cold→hot", "m/0/1 cold→warm"], admitted.Decisions.Select(d => d.Change));
    }

    [Fact]
    public void Admits_at_most_the_change_cap_best_value_per_byte_first()
    {
        RankState rank = Rank(10, 0, [.. Enumerable.Range(0, 10).Select(e => Expert(e, Tier.Cold))]);
        TierPlan plan = Plan([.. Enumerable.Range(0, 10).Select(e => Move(e, Tier.Cold, Tier.Hot, value: e))]);

        TierPlan admitted = TierGuardrails.Apply(plan, rank, new GuardrailOptions { MaxChangesPerInterval = 4 });

        Assert.Equal([9, 8, 7, 6], admitted.Moves.Select(m => m.Expert.Expert));
        Assert.Equal(6, admitted.Decisions.Count(d => d.Outcome == DecisionOutcome.Refused && d.Reason.StartsWith("change cap")));
    }

    [Theory]
    [InlineData(10.5, false)] // 5 % better: under the 10 % margin
    [InlineData(11.5, true)]  // 15 % better
    public void A_challenger_must_beat_the_expert_it_displaces_by_the_hysteresis_ratio(double challenger, bool swapped)
    {
        RankState rank = Rank(1, 0, Expert(0, Tier.Hot), Expert(1, Tier.Cold));
        TierPlan plan = Plan(Move(1, Tier.Cold, Tier.Hot, value: challenger), Move(0, Tier.Hot, Tier.Cold, value: 10));

        TierPlan admitted = TierGuardrails.Apply(plan, rank, new GuardrailOptions { HysteresisRatio = 0.1 });

        Assert.Equal(swapped ? 2 : 0, admitted.Moves.Count);
        if (!swapped) Assert.All(admitted.Decisions, d => Assert.Contains("hysteresis", d.Reason));
    }

    [Fact]
    public void A_swap_between_a_full_hot_and_a_full_warm_tier_is_admitted_whole()
    {
        RankState rank = Rank(1, 1, Expert(0, Tier.Hot), Expert(1, Tier.Warm));
        TierPlan plan = Plan(Move(1, Tier.Warm, Tier.Hot, value: 5), Move(0, Tier.Hot, Tier.Warm, value: 1));

        TierPlan admitted = TierGuardrails.Apply(plan, rank, new GuardrailOptions());

        Assert.Equal([(Key(1), Tier.Hot), (Key(0), Tier.Warm)], Moves(admitted));
    }

    [Fact]
    public void A_swap_counts_all_its_moves_against_the_cap_and_is_refused_whole_when_they_do_not_fit()
    {
        // Promote 2 (cold → hot), displacing 0 (hot → warm), which displaces 1 (warm → cold): three moves, or none.
        RankState full = Rank(1, 1, Expert(0, Tier.Hot), Expert(1, Tier.Warm), Expert(2, Tier.Cold), Expert(3, Tier.Cold));
        TierPlan swap = Plan(Move(2, Tier.Cold, Tier.Hot, 9), Move(0, Tier.Hot, Tier.Warm, 2), Move(1, Tier.Warm, Tier.Cold, 1));
        Assert.Equal(3, TierGuardrails.Apply(swap, full, new GuardrailOptions { MaxChangesPerInterval = 3 }).Moves.Count);

        // With room for one more hot expert, a better promotion takes one change first and the swap no longer fits.
        var roomForOne = new RankState(0, new TierBudgets(2 * HotBytes, WarmBytes), full.Experts);
        TierPlan both = swap with { Moves = [.. swap.Moves, Move(3, Tier.Cold, Tier.Hot, 100)] };
        TierPlan admitted = TierGuardrails.Apply(both, roomForOne, new GuardrailOptions { MaxChangesPerInterval = 3 });
        Assert.Equal([(Key(3), Tier.Hot)], Moves(admitted));
        Assert.Equal(3, admitted.Decisions.Count(d => d.Reason.StartsWith("change cap")));
    }

    [Fact]
    public void Stale_and_unknown_moves_are_refused()
    {
        RankState rank = Rank(2, 2, Expert(0, Tier.Warm));

        TierPlan admitted = TierGuardrails.Apply(Plan(Move(0, Tier.Cold, Tier.Hot), Move(9, Tier.Cold, Tier.Hot)), rank, new GuardrailOptions());

        Assert.Empty(admitted.Moves);
        Assert.Equal(["stale: the expert is warm now", "expert m/0/9 is not on rank 0"],
            admitted.Decisions.Select(d => d.Reason[..d.Reason.IndexOf(" (wanted", StringComparison.Ordinal)]));
    }

    [Fact]
    public void Budgets_are_never_exceeded_over_random_states_and_plans()
    {
        var random = new Random(20250101);
        for (int round = 0; round < 2000; round++)
        {
            RankState rank = RandomRank(random);
            TierPlan plan = random.Next(4) == 0
                ? new LatencyController(new LatencyControllerOptions()).Plan(Input(rank))
                : RandomPlan(random, rank);
            var options = new GuardrailOptions { MaxChangesPerInterval = random.Next(3, 20), HysteresisRatio = random.NextDouble() * 0.5 };

            TierPlan admitted = TierGuardrails.Apply(plan, rank, options);

            var tiers = rank.Experts.ToDictionary(e => e.Key, e => e.Tier);
            foreach (TierMove move in admitted.Moves) tiers[move.Expert] = move.To;
            var after = new RankState(0, rank.Budgets, [.. rank.Experts.Select(e => e with { Tier = tiers[e.Key] })]);
            Assert.True(after.BytesUsed(Tier.Hot) <= rank.Budgets.HotBytes, $"round {round}: hot {after.BytesUsed(Tier.Hot)} > {rank.Budgets.HotBytes}");
            Assert.True(after.BytesUsed(Tier.Warm) <= rank.Budgets.WarmBytes, $"round {round}: warm {after.BytesUsed(Tier.Warm)} > {rank.Budgets.WarmBytes}");
            Assert.True(admitted.Moves.Count <= options.MaxChangesPerInterval, $"round {round}: over the cap");
            Assert.DoesNotContain(admitted.Moves, m => rank.Experts.First(e => e.Key == m.Expert).Pinned is not null);
            Assert.Equal(plan.Moves.Count, admitted.Decisions.Count - plan.Decisions.Count); // one record per move
        }
    }

    /// <summary>Experts of random sizes (some pinned) placed in random tiers that fit random budgets.</summary>
    static RankState RandomRank(Random random)
    {
        var budgets = new TierBudgets(random.Next(0, 4000), random.Next(0, 3000));
        long hot = 0, warm = 0;
        var experts = new List<ExpertState>();
        for (int e = 0, count = random.Next(1, 24); e < count; e++)
        {
            long hotBytes = random.Next(100, 900), warmBytes = hotBytes / 2;
            var tier = (Tier)random.Next(3);
            if (tier == Tier.Hot && hot + hotBytes > budgets.HotBytes) tier = Tier.Cold;
            if (tier == Tier.Warm && warm + warmBytes > budgets.WarmBytes) tier = Tier.Cold;
            hot += tier == Tier.Hot ? hotBytes : 0;
            warm += tier == Tier.Warm ? warmBytes : 0;
            experts.Add(new ExpertState(Key(e), tier, hotBytes, warmBytes, random.Next(0, 50), random.Next(8) == 0 ? tier : null));
        }
        return new RankState(0, budgets, experts);
    }

    /// <summary>Moves for random experts to random tiers, mostly from their current tier, with random values.</summary>
    static TierPlan RandomPlan(Random random, RankState rank) =>
        Plan([.. rank.Experts.Where(_ => random.Next(3) > 0).Select(e =>
            new TierMove(e.Key, random.Next(10) == 0 ? (Tier)random.Next(3) : e.Tier, (Tier)random.Next(3), random.NextDouble() * 100, "random"))]);

    [Theory]
    [InlineData(2, 0.1, nameof(GuardrailOptions.MaxChangesPerInterval))]
    [InlineData(16, -0.1, nameof(GuardrailOptions.HysteresisRatio))]
    [InlineData(16, double.NaN, nameof(GuardrailOptions.HysteresisRatio))]
    public void Rejects_options_out_of_range_naming_the_option(int maxChanges, double hysteresis, string name)
    {
        var options = new GuardrailOptions { MaxChangesPerInterval = maxChanges, HysteresisRatio = hysteresis };
        var error = Assert.Throws<ArgumentException>(() => TierGuardrails.Apply(Plan(), Rank(1, 1), options));
        Assert.Equal(name, error.ParamName);
    }
}
