using MoeRuntime.Control.Cost;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Cost;

public sealed class CostAwareRoutingTests
{
    static readonly Tier[] Tiers = [Tier.Hot, Tier.Cold, Tier.Warm, Tier.Cold];

    // Token 0: top-2 {1, 2} before and after the penalty. Token 1: top-2 {1, 3} becomes {0, 1}: one choice of four changes.
    static readonly float[] Scores = [1.0f, 3.0f, 2.0f, 0.5f, 2.0f, 2.25f, 0.125f, 2.125f];

    // The same with 1.5 taken off experts 1 and 3 (all values exact in binary).
    static readonly float[] Biased = [1.0f, 1.5f, 2.0f, -1.0f, 2.0f, 0.75f, 0.125f, 0.625f];

    [Fact]
    public void Subtracts_the_penalty_from_cold_experts_only()
    {
        var biased = new float[Scores.Length];

        CostAwareRouting.Penalize(Scores, Tiers, 1.5f, biased);

        Assert.Equal(Biased, biased);
    }

    [Fact]
    public void Measures_the_share_of_changed_top_k_choices()
    {
        var biased = new float[Scores.Length];
        CostAwareRouting.Penalize(Scores, Tiers, 1.5f, biased);

        Assert.Equal(0.25, CostAwareRouting.ChangedTopKShare(Scores, biased, experts: 4, k: 2));
        Assert.Equal(0, CostAwareRouting.ChangedTopKShare(Scores, Scores, experts: 4, k: 2));
    }

    [Theory]
    [InlineData(0.3, true)]
    [InlineData(0.2, false)]
    public void Applies_the_bias_within_the_quality_bound_and_refuses_over_it(double bound, bool applied)
    {
        var routed = new float[Scores.Length];
        var options = new CostAwareRoutingOptions { Enabled = true, ColdPenalty = 1.5f, TopK = 2, MaxChangedShare = bound };

        RoutingBias bias = CostAwareRouting.Apply(Scores, Tiers, options, routed);

        Assert.Equal(applied, bias.Applied);
        Assert.Equal(0.25, bias.ChangedShare);
        Assert.Equal(applied ? Biased : Scores, routed);
        if (!applied) Assert.StartsWith("refused", bias.Reason);
    }

    [Fact]
    public void Is_off_unless_switched_on()
    {
        var routed = new float[Scores.Length];

        RoutingBias bias = CostAwareRouting.Apply(Scores, Tiers, new CostAwareRoutingOptions(), routed);

        Assert.False(bias.Applied);
        Assert.Equal(Scores, routed);
    }

    [Fact]
    public void Rejects_scores_that_are_not_tokens_by_experts_and_options_out_of_range()
    {
        var options = new CostAwareRoutingOptions { Enabled = true };
        Assert.Throws<ArgumentException>(() => CostAwareRouting.Apply(new float[7], Tiers, options, new float[7]));
        Assert.Equal(nameof(CostAwareRoutingOptions.TopK),
            Assert.Throws<ArgumentException>(() => CostAwareRouting.Apply(Scores, Tiers, options with { TopK = 0 }, new float[8])).ParamName);
        Assert.Equal(nameof(CostAwareRoutingOptions.MaxChangedShare),
            Assert.Throws<ArgumentException>(() => CostAwareRouting.Apply(Scores, Tiers, options with { MaxChangedShare = 1.5 }, new float[8])).ParamName);
    }
}
