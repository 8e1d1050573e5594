using MoeRuntime.Control.Loop;
using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Canary;

/// <summary>A rank's <see cref="RankSample"/> for one interval from what the controllers already read of it.</summary>
public static class CanarySamples
{
    /// <summary>
    /// The rank's figures between two reads of its tier-store counters: the hot hit ratio and the fetch stall per 1000
    /// expert calls (absent when the rank made no expert call, or when its counters went backwards — a restart, whose
    /// interval is not comparable), with its p95 latencies (absent where the rank's window measured none) and its cost per
    /// 1000 tokens when known.
    /// </summary>
    public static RankSample From(int rank, RankCounters before, RankCounters after, ObservedLatency latency, double? dollarsPerThousandTokens = null)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        ArgumentNullException.ThrowIfNull(latency);
        var values = new Dictionary<CanaryMetric, double>();
        if (!after.WentBackFrom(before))
        {
            long hits = after.Hits - before.Hits;
            long calls = hits + after.WarmFetches - before.WarmFetches + after.ColdFetches - before.ColdFetches;
            if (calls > 0)
            {
                values[CanaryMetric.HotHitRatio] = (double)hits / calls;
                double stall = after.WarmFetchSeconds - before.WarmFetchSeconds + after.ColdFetchSeconds - before.ColdFetchSeconds;
                values[CanaryMetric.FetchStallPerThousandCalls] = Math.Max(0, stall) / calls * 1000;
            }
        }
        if (latency.P95InterTokenSeconds is { } itl) values[CanaryMetric.InterTokenP95] = itl;
        if (latency.P95TimeToFirstTokenSeconds is { } ttft) values[CanaryMetric.TimeToFirstTokenP95] = ttft;
        if (dollarsPerThousandTokens is { } dollars && double.IsFinite(dollars)) values[CanaryMetric.DollarsPerThousandTokens] = dollars;
        return new RankSample(rank, values);
    }
}
