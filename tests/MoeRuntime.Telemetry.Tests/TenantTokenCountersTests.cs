using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Collection;
using MoeRuntime.Telemetry.Summaries;

namespace MoeRuntime.Telemetry.Tests;

public class TenantTokenCountersTests
{
    static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    static (RankCollector Collector, ManualClock Clock) NewCollector(CostRates? costs = null)
    {
        var clock = new ManualClock(Start);
        var collector = new RankCollector(new RankCollectorOptions
        {
            RankId = "rank-0",
            Model = "tiny-moe",
            Layers = 4,
            Experts = 8,
            SampleEveryNTokens = 1,
            DigestCapacity = 64,
            Costs = costs ?? new CostRates(),
            Clock = clock,
        });
        return (collector, clock);
    }

    static Dictionary<(string Metric, string Tenant, string TokenType), double> TenantSeries(RankSummary summary) =>
        summary.Counters
            .Where(c => c.Metric == MoeMetrics.TenantTokensTotal || c.Metric == MoeMetrics.TenantTokenCostUsdTotal)
            .ToDictionary(c => (c.Metric.Name, c.Labels[0], c.Labels[1]), c => c.Delta);

    [Fact]
    public void EachTenantsTokensAndCostAreCountedApart()
    {
        var (collector, clock) = NewCollector(new CostRates { PromptUsdPer1kTokens = 0.001, CompletionUsdPer1kTokens = 0.004 });
        var tenants = new TenantTokenCounters(collector);
        tenants.Add("a1b2c3", 1_000, 500);
        tenants.Add("a1b2c3", 1_000, 0);
        tenants.Add("d4e5f6", 10, 250);
        clock.Now = Start.AddMinutes(1);

        var series = TenantSeries(collector.CollectSummary());

        Assert.Equal(2_000, series[("moe_tenant_tokens_total", "a1b2c3", "prompt")]);
        Assert.Equal(500, series[("moe_tenant_tokens_total", "a1b2c3", "completion")]);
        Assert.Equal(250, series[("moe_tenant_tokens_total", "d4e5f6", "completion")]);
        Assert.Equal(0.002, series[("moe_tenant_token_cost_usd_total", "a1b2c3", "prompt")], 1e-12);
        Assert.Equal(0.002, series[("moe_tenant_token_cost_usd_total", "a1b2c3", "completion")], 1e-12);
        Assert.Equal(0.001, series[("moe_tenant_token_cost_usd_total", "d4e5f6", "completion")], 1e-12);
        Assert.Equal(2, tenants.Tracked);
    }

    [Fact]
    public void TenantsPastTheBoundShareOneSeriesAndNothingIsLost()
    {
        var (collector, clock) = NewCollector();
        var tenants = new TenantTokenCounters(collector);
        const int invented = MetricLabels.TenantBound + 500;
        for (var i = 0; i < invented; i++) tenants.Add($"t{i:x6}", 1, 2);
        clock.Now = Start.AddMinutes(1);

        var series = TenantSeries(collector.CollectSummary());

        Assert.Equal(MetricLabels.TenantBound, tenants.Tracked);
        Assert.Equal(500, series[("moe_tenant_tokens_total", MetricLabels.OtherTenant, "prompt")]);
        Assert.Equal(invented, series.Where(s => s.Key.TokenType == "prompt").Sum(s => s.Value));
        Assert.Equal(2.0 * invented, series.Where(s => s.Key.TokenType == "completion").Sum(s => s.Value));
        Assert.Equal(MetricLabels.TenantBound + 1, series.Keys.Select(k => k.Tenant).Distinct().Count());
    }

    [Theory]
    [InlineData("")]
    [InlineData("other")]
    public void AValueThatIsNotAPseudonymIsCountedAsOther(string tenant)
    {
        var (collector, clock) = NewCollector();
        var tenants = new TenantTokenCounters(collector);
        tenants.Add(tenant, 3, 4);
        clock.Now = Start.AddMinutes(1);

        var series = TenantSeries(collector.CollectSummary());

        Assert.Equal(0, tenants.Tracked);
        Assert.Equal(3, series[("moe_tenant_tokens_total", MetricLabels.OtherTenant, "prompt")]);
    }

    [Fact]
    public void ALongValueIsCountedAsOther()
    {
        var (collector, clock) = NewCollector();
        var tenants = new TenantTokenCounters(collector);
        tenants.Add(new string('x', MetricLabels.MaxValueLength + 1), 3, 4);
        clock.Now = Start.AddMinutes(1);

        Assert.Equal(4, TenantSeries(collector.CollectSummary())[("moe_tenant_tokens_total", MetricLabels.OtherTenant, "completion")]);
    }
}
