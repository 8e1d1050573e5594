using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Planning;
using MoeRuntime.Serving.Tiers;
using static MoeRuntime.Control.Tests.Planning.Ranks;

namespace MoeRuntime.Control.Tests.Cost;

public sealed class CostControllerTests
{
    const long Gb = 1_000_000_000;

    /// <summary>
    /// Hour-long intervals and demand equal to the last interval's uses. A 1 GB hot expert costs $1 per interval to keep;
    /// warm (0.5 GB) $0.05. A warm miss moves 0.5 GB ($0.005) and stalls 2 ms ($0.002): $0.007; a cold miss $0.025.
    /// </summary>
    static readonly CostControllerOptions Options = new()
    {
        Model = new CostModel { HotDollarsPerGbHour = 1, WarmDollarsPerGbHour = 0.1, DollarsPerFetchedGb = 0.01, DollarsPerStallSecond = 1 },
        DemandHalfLifeIntervals = 1e-9,
        DemoteMargin = 0.1,
    };

    /// <summary>The experts, and a cold one called once so that the interval is not idle (an idle one moves nothing).</summary>
    static ControlInput HourLong(params ExpertState[] experts) =>
        Input(new RankState(0, new TierBudgets(10 * Gb, 10 * Gb), [.. experts, Expert(9, Tier.Cold, uses: 1, hotBytes: Gb, warmBytes: Gb / 2)]))
            with { Interval = TimeSpan.FromHours(1) };

    static ExpertState HotExpert(int expert, long uses) => Expert(expert, Tier.Hot, uses, hotBytes: Gb, warmBytes: Gb / 2);

    [Theory]
    [InlineData(0, Tier.Cold)]    // keep $1 against no misses: cold costs nothing
    [InlineData(100, Tier.Warm)]  // warm $0.05 + 100 × $0.007 = $0.75, cold $2.50: warm
    [InlineData(130, null)]       // warm $0.96: cheaper, but not by the 10 % margin
    [InlineData(1000, null)]      // misses would cost $7 from warm: keep it hot
    public void Demotes_when_keeping_costs_more_than_the_misses_it_saves_and_not_otherwise(long uses, Tier? to)
    {
        TierPlan plan = new CostController(Options).Plan(HourLong(HotExpert(0, uses)));

        Assert.Equal(to, plan.Moves.SingleOrDefault()?.To);
    }

    [Fact]
    public void An_idle_interval_moves_nothing_and_teaches_demand_nothing()
    {
        var controller = new CostController(Options with { DemandHalfLifeIntervals = 1 });
        var busy = Input(new RankState(0, new TierBudgets(10 * Gb, 10 * Gb), [HotExpert(0, 2000)])) with { Interval = TimeSpan.FromHours(1) };
        var idle = busy with { Rank = new RankState(0, busy.Rank.Budgets, [HotExpert(0, 0)]) };
        Assert.Empty(controller.Plan(busy).Moves);

        // Keeping it hot costs $1, 1000 expected misses from warm $7; decayed over four idle intervals (to 62.5) it would
        // go warm. Idle intervals leave the demand at 1000.
        for (int i = 0; i < 5; i++)
        {
            TierPlan plan = controller.Plan(idle);
            Assert.Empty(plan.Moves);
            Assert.Contains("TierSet held", plan.Decisions.Single().Reason, StringComparison.Ordinal);
        }
        Assert.True(controller.Admits(HotExpert(0, 0) with { Tier = Tier.Warm }, Tier.Hot, 1000, idle));
    }

    [Theory]
    [InlineData(120, false)]  // the cost controller demotes a hot expert at 120 (under 123.4): no promotion
    [InlineData(130, false)]  // kept hot at 130, but not promoted: 130 / 1.1 = 118 is under the break-even
    [InlineData(140, true)]   // 140 / 1.1 = 127 clears it: promoted, and not demoted again at 140
    public void A_promotion_must_clear_the_break_even_by_the_margin_a_demotion_falls_under_it(double uses, bool admitted)
    {
        var controller = new CostController(Options);
        ExpertState warm = HotExpert(0, 0) with { Tier = Tier.Warm };
        ControlInput input = HourLong(warm);

        Assert.Equal(admitted, controller.Admits(warm, Tier.Hot, uses, input));
        Assert.True(controller.Admits(warm, Tier.Cold, 0, input));
        Assert.True(controller.Admits(warm, Tier.Warm, 0, input));
    }

    [Fact]
    public void Prefers_cold_when_warm_has_no_room_and_never_touches_pinned_experts()
    {
        ControlInput input = HourLong(HotExpert(0, 0), HotExpert(1, 0) with { Pinned = Tier.Hot });
        input = input with { Rank = new RankState(0, new TierBudgets(10 * Gb, 0), input.Rank.Experts) };

        TierPlan plan = new CostController(Options).Plan(input);

        Assert.Equal([(Key(0), Tier.Cold)], plan.Moves.Select(m => (m.Expert, m.To)));
    }

    [Fact]
    public void Dollars_per_thousand_tokens_adds_memory_and_fetches_per_token_to_the_token_price()
    {
        var model = new CostModel { HotDollarsPerGbHour = 2, WarmDollarsPerGbHour = 0.5, DollarsPerFetchedGb = 0.1, DollarsPerThousandTokens = 0.002 };

        CostReport report = model.Report(hotBytes: 3 * Gb, warmBytes: 2 * Gb, TimeSpan.FromMinutes(30), fetchedBytes: 4 * Gb, tokens: 5000);

        Assert.Equal(1.5, report.HotGbHours, precision: 12);
        Assert.Equal(3.0, report.HotDollars, precision: 12);
        Assert.Equal(0.5, report.WarmDollars, precision: 12);
        Assert.Equal(0.4, report.FetchDollars, precision: 12);
        // (3 + 0.5 + 0.4) / 5000 × 1000 + 0.002
        Assert.Equal(0.782, report.DollarsPerThousandTokens!.Value, precision: 12);
        Assert.Null(model.Report(Gb, 0, TimeSpan.FromHours(1), 0, tokens: 0).DollarsPerThousandTokens);
    }

    [Fact]
    public void The_controller_reports_the_rank_s_cost_from_its_tiers_and_fetches()
    {
        ControlInput input = HourLong(HotExpert(0, 10), Expert(1, Tier.Warm, warmBytes: Gb)) with
        {
            Tokens = 1000,
            WarmFetch = new TierFetchStats(4, 0.002, 0.003, 2 * Gb),
            ColdFetch = new TierFetchStats(1, 0.02, 0.02, 1 * Gb),
        };

        CostReport report = new CostController(Options).Report(input);

        Assert.Equal(1 + 0.1 + 3 * 0.01, report.DollarsPerThousandTokens!.Value, precision: 12);
    }

    [Theory]
    [InlineData(-1, 0.1, nameof(CostModel.HotDollarsPerGbHour))]
    [InlineData(1, -0.1, nameof(CostControllerOptions.DemoteMargin))]
    public void Rejects_options_out_of_range_naming_the_option(double hotPrice, double margin, string name)
    {
        var options = new CostControllerOptions { Model = new CostModel { HotDollarsPerGbHour = hotPrice }, DemoteMargin = margin };
        Assert.Equal(name, Assert.Throws<ArgumentException>(() => new CostController(options)).ParamName);
    }
}
