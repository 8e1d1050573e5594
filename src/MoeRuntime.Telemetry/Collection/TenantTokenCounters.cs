using System.Collections.Concurrent;
using MoeRuntime.Telemetry.Catalogue;

namespace MoeRuntime.Telemetry.Collection;

/// <summary>
/// The per-tenant token counters of one rank (<see cref="MoeMetrics.TenantTokensTotal"/>). The first
/// <see cref="MetricLabels.TenantBound"/> tenants a rank sees get series of their own; every later one is counted
/// under <see cref="MetricLabels.OtherTenant"/>, so a client that invents tenant names cannot grow the rank's memory
/// or its series. Callers pass the tenant's pseudonym, never its name.
/// </summary>
public sealed class TenantTokenCounters
{
    readonly RankCollector _collector;
    readonly ConcurrentDictionary<string, TenantHandles> _tenants = new(StringComparer.Ordinal);
    readonly TenantHandles _other;
    readonly object _gate = new();

    public TenantTokenCounters(RankCollector collector)
    {
        _collector = collector;
        _other = Register(MetricLabels.OtherTenant);
    }

    /// <summary>Tenants with series of their own so far (at most <see cref="MetricLabels.TenantBound"/>).</summary>
    public int Tracked => _tenants.Count;

    /// <summary>Counts a finished request's tokens for <paramref name="tenantPseudonym"/>.</summary>
    public void Add(string tenantPseudonym, long promptTokens, long completionTokens)
    {
        TenantHandles handles = Of(tenantPseudonym);
        handles.Prompt.Add(promptTokens);
        handles.Completion.Add(completionTokens);
    }

    TenantHandles Of(string tenant)
    {
        if (_tenants.TryGetValue(tenant, out TenantHandles? known)) return known;
        if (!IsLabelValue(tenant)) return _other;
        lock (_gate)
        {
            if (_tenants.TryGetValue(tenant, out known)) return known;
            if (_tenants.Count >= MetricLabels.TenantBound) return _other;
            TenantHandles added = Register(tenant);
            _tenants[tenant] = added;
            return added;
        }
    }

    TenantHandles Register(string tenant) => new(
        _collector.Counter(MoeMetrics.TenantTokensTotal, tenant, "prompt"),
        _collector.Counter(MoeMetrics.TenantTokensTotal, tenant, "completion"));

    static bool IsLabelValue(string tenant) =>
        tenant != MetricLabels.OtherTenant && MetricLabels.Tenant.Accepts(tenant);

    sealed record TenantHandles(CounterHandle Prompt, CounterHandle Completion);
}
