using MoeRuntime.Control.Canary;
using MoeRuntime.Control.Cost;
using MoeRuntime.Control.Loop;
using MoeRuntime.Serving.Tiers;

namespace MoeRuntime.Control.Tests.Canary;

public sealed class CanaryCostTests
{
    const double Gb = CostModel.BytesPerGb;
    static readonly CostModel Prices = new() { HotDollarsPerGbHour = 1, WarmDollarsPerGbHour = 0.5, DollarsPerFetchedGb = 0.1, DollarsPerThousandTokens = 0 };
    static readonly TimeSpan Hour = TimeSpan.FromHours(1);

    static RankCounters Counters(double warmFetched, double coldFetched, long hits = 0) =>
        new(hits, 0, 0, 0, 0, warmFetched, coldFetched, new Dictionary<ExpertKey, long>());

    [Fact]
    public void MemoryAndFetchesOverTheRanksOwnTokens()
    {
        // 1 GB hot for an hour ($1) + 2 GB warm ($1) + 10 GB fetched ($1) over 3000 tokens: $1 per 1000 tokens.
        double? cost = CanaryCost.DollarsPerThousandTokens(Prices, (long)Gb, (long)(2 * Gb), Hour, Counters(0, 0), Counters(4 * Gb, 6 * Gb), 3000 / 3600.0);
        Assert.NotNull(cost);
        Assert.Equal(1.0, cost!.Value, 6);
        // Twice the tokens on the same memory and fetches: half the cost per token.
        Assert.Equal(0.5, CanaryCost.DollarsPerThousandTokens(Prices, (long)Gb, (long)(2 * Gb), Hour, Counters(0, 0), Counters(4 * Gb, 6 * Gb), 6000 / 3600.0)!.Value, 6);
    }

    [Fact]
    public void NoFigureWithoutTokensOrAcrossARestart()
    {
        Assert.Null(CanaryCost.DollarsPerThousandTokens(Prices, 1, 1, Hour, Counters(0, 0), Counters(1, 1), null));
        Assert.Null(CanaryCost.DollarsPerThousandTokens(Prices, 1, 1, Hour, Counters(0, 0), Counters(1, 1), 0));
        Assert.Null(CanaryCost.DollarsPerThousandTokens(Prices, 1, 1, Hour, Counters(10, 10), Counters(1, 1), 5));
        Assert.Null(CanaryCost.DollarsPerThousandTokens(Prices, 1, 1, TimeSpan.Zero, Counters(0, 0), Counters(1, 1), 5));
    }
}
