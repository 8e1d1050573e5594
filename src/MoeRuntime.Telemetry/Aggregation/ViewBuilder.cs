using MoeRuntime.Telemetry.Catalogue;
using MoeRuntime.Telemetry.Sketches;

namespace MoeRuntime.Telemetry.Aggregation;

/// <summary>The latest value of a gauge summed over the ranks in scope, for the label sets <c>filter</c> accepts.</summary>
public delegate double GaugeSource(MetricDefinition metric, Func<IReadOnlyList<string>, bool> filter);

/// <summary>Computes a <see cref="TelemetryView"/> from a window's merged snapshot and the ranks' latest gauges.</summary>
public static class ViewBuilder
{
    /// <summary>The distributions every view summarises.</summary>
    public static readonly IReadOnlyList<MetricDefinition> Distributions =
    [
        MoeMetrics.RequestDurationSeconds, MoeMetrics.TimeToFirstTokenSeconds, MoeMetrics.TimePerOutputTokenSeconds,
        MoeMetrics.QueueWaitSeconds, MoeMetrics.PrefillSeconds, MoeMetrics.DecodeStepSeconds, MoeMetrics.TokenComputeSeconds,
        MoeMetrics.TokenIoSeconds, MoeMetrics.SamplerSeconds, MoeMetrics.TokenizerSeconds, MoeMetrics.TierFetchSeconds, MoeMetrics.BatchSize,
    ];

    static readonly string[] TierNames = ["hot", "warm", "cold"];

    /// <param name="gauges">The latest value of a gauge summed over the ranks in scope, for label sets the filter accepts.</param>
    public static TelemetryView Build(string scope, TelemetryWindow window, MergedSnapshot s, GaugeSource gauges, RankCounts ranks,
        MismatchStatus mismatches, SloTargets targets, DateTimeOffset now)
    {
        double seconds = SlidingWindows.Covered(window, now).TotalSeconds;

        double total = s.CounterTotal(MoeMetrics.RequestsTotal);
        double errors = s.CounterTotal(MoeMetrics.RequestsTotal, Label(MoeMetrics.RequestsTotal, "status", v => v != "success"));
        var requests = new RequestRates(total, total / seconds, errors, total == 0 ? 0 : errors / total,
            s.CounterTotal(MoeMetrics.TokensTotal, Label(MoeMetrics.TokensTotal, "token_type", "prompt")) / seconds,
            s.CounterTotal(MoeMetrics.TokensTotal, Label(MoeMetrics.TokensTotal, "token_type", "completion")) / seconds,
            s.CounterTotal(MoeMetrics.AdmissionRejectsTotal));

        var latency = new Dictionary<string, LatencySummary>(StringComparer.Ordinal);
        foreach (MetricDefinition metric in Distributions)
            if (s.Distribution(metric) is { Count: > 0 } sketch) latency[metric.Name] = Summarise(sketch);

        var experts = Enumerable.Range(0, s.Layers).Select(layer =>
        {
            long[] hits = s.ExpertHits.AsSpan(layer * s.Experts, s.Experts).ToArray();
            double mean = hits.Average();
            double[] computePerHit = Enumerable.Range(0, s.Experts)
                .Select(e => hits[e] == 0 ? 0 : s.ExpertComputeNanoseconds[layer * s.Experts + e] * 1e-9 / hits[e]).ToArray();
            return new LayerExperts(layer, hits, mean == 0 ? 0 : hits.Max() / mean, computePerHit);
        }).ToList();

        var tiers = Enumerable.Range(0, 3).Select(t =>
        {
            long hits = s.TierHits.AsSpan(t * s.Layers, s.Layers).ToArray().Sum();
            long misses = s.TierMisses.AsSpan(t * s.Layers, s.Layers).ToArray().Sum();
            RelativeErrorSketch? fetch = t == 0 ? null : s.Distribution(MoeMetrics.TierFetchSeconds, Label(MoeMetrics.TierFetchSeconds, "tier", TierNames[t]));
            double memory = gauges(MoeMetrics.TierMemoryBytes, Label(MoeMetrics.TierMemoryBytes, "tier", TierNames[t]));
            double capacity = gauges(MoeMetrics.TierCapacityBytes, Label(MoeMetrics.TierCapacityBytes, "tier", TierNames[t]));
            return new TierStatus(TierNames[t], hits, misses, hits + misses == 0 ? 0 : hits / (double)(hits + misses),
                fetch is { Count: > 0 } ? Summarise(fetch) : null, memory, capacity, capacity == 0 ? 0 : memory / capacity);
        }).ToList();

        double used = s.CounterTotal(MoeMetrics.PrefetchOutcomeBytesTotal, Label(MoeMetrics.PrefetchOutcomeBytesTotal, "outcome", "used"));
        double wasted = s.CounterTotal(MoeMetrics.PrefetchOutcomeBytesTotal, Label(MoeMetrics.PrefetchOutcomeBytesTotal, "outcome", "wasted"));
        var prefetch = new PrefetchStatus(used, wasted, used + wasted == 0 ? 0 : used / (used + wasted), s.CounterTotal(MoeMetrics.PrefetchFailuresTotal))
        {
            Pregating = Pregating(s),
        };

        double sent = s.CounterTotal(MoeMetrics.DispatchBytesTotal, Label(MoeMetrics.DispatchBytesTotal, "direction", "sent"));
        double received = s.CounterTotal(MoeMetrics.DispatchBytesTotal, Label(MoeMetrics.DispatchBytesTotal, "direction", "received"));
        var traffic = new TrafficStatus(sent, received, (sent + received) / seconds);

        double kvHits = s.CounterTotal(MoeMetrics.KvCacheLookupsTotal, Label(MoeMetrics.KvCacheLookupsTotal, "result", "hit"));
        double kvMisses = s.CounterTotal(MoeMetrics.KvCacheLookupsTotal, Label(MoeMetrics.KvCacheLookupsTotal, "result", "miss"));
        var kv = new KvCacheStatus(gauges(MoeMetrics.KvCacheBytes, _ => true), kvHits, kvMisses, kvHits + kvMisses == 0 ? 0 : kvHits / (kvHits + kvMisses));

        return new TelemetryView(scope, Name(window), now, ranks, requests, latency, experts, tiers, prefetch, traffic, kv, Slos(s, targets), mismatches)
        {
            Shadow = Shadow(s),
        };
    }

    /// <summary>The window's shadow-evaluation sums over the ranks; null when no request was sampled for a shadow candidate.</summary>
    public static ShadowStatus? Shadow(MergedSnapshot s)
    {
        double outcome(string value) =>
            s.CounterTotal(MoeMetrics.ShadowRequestsTotal, Label(MoeMetrics.ShadowRequestsTotal, "outcome", value));
        long scored = (long)outcome("scored"), dropped = (long)outcome("dropped"), failed = (long)outcome("failed");
        if (scored + dropped + failed == 0) return null;
        // Every layer of the model, so that a layer where no position agreed (no series, or only zeros) still counts as 0.
        var perLayer = new long[s.Layers];
        foreach (CounterTotal counter in s.Counters)
            if (counter.Metric.Name == MoeMetrics.ShadowRoutingAgreementsTotal.Name && counter.Labels.Count == 1
                && int.TryParse(counter.Labels[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int layer)
                && layer < perLayer.Length)
                perLayer[layer] += (long)counter.Total;
        double seconds(string scorer) =>
            s.Distribution(MoeMetrics.ShadowLatencySeconds, Label(MoeMetrics.ShadowLatencySeconds, "scorer", scorer))?.Sum ?? 0;
        return new ShadowStatus(scored, dropped, failed, (long)s.CounterTotal(MoeMetrics.ShadowTokensTotal),
            (long)s.CounterTotal(MoeMetrics.ShadowGreedyAgreementsTotal), s.CounterTotal(MoeMetrics.ShadowLogprobDivergenceMicronatsTotal) * 1e-6,
            (long)s.CounterTotal(MoeMetrics.ShadowRoutingPositionsTotal), perLayer, seconds("primary"), seconds("candidate"));
    }

    /// <summary>The window's pre-gating counters per (layer, lookahead), summed over ranks; label values that are not numbers are skipped.</summary>
    public static IReadOnlyList<PregatingAccuracy> Pregating(MergedSnapshot s)
    {
        var sums = new SortedDictionary<(int Layer, int Lookahead), double[]>();
        foreach (CounterTotal counter in s.Counters)
        {
            int kind = counter.Metric.Name == MoeMetrics.PregatingPredictedTotal.Name ? 0
                : counter.Metric.Name == MoeMetrics.PregatingActualTotal.Name ? 1
                : counter.Metric.Name == MoeMetrics.PregatingHitTotal.Name ? 2 : -1;
            if (kind < 0 || counter.Labels.Count != 2
                || !int.TryParse(counter.Labels[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int layer)
                || !int.TryParse(counter.Labels[1], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int lookahead))
                continue;
            if (!sums.TryGetValue((layer, lookahead), out double[]? sum)) sums[(layer, lookahead)] = sum = new double[3];
            sum[kind] += counter.Total;
        }
        return [.. sums.Select(p => new PregatingAccuracy(p.Key.Layer, p.Key.Lookahead, (long)p.Value[0], (long)p.Value[1], (long)p.Value[2]))];
    }

    /// <summary>
    /// Server-caused failures over valid requests: the one availability definition (see
    /// <see cref="MetricLabels.ClientCausedErrorTypes"/>), which the recording rules <c>moe:error_ratio:*</c> share.
    /// </summary>
    public static double ServerErrorRatio(MergedSnapshot s)
    {
        Func<IReadOnlyList<string>, bool> valid = Label(MoeMetrics.RequestsTotal, "error_type", t => !MetricLabels.ClientCausedErrorTypes.Contains(t));
        Func<IReadOnlyList<string>, bool> failed = Label(MoeMetrics.RequestsTotal, "status", v => v != "success");
        double total = s.CounterTotal(MoeMetrics.RequestsTotal, valid);
        return total == 0 ? 0 : s.CounterTotal(MoeMetrics.RequestsTotal, l => valid(l) && failed(l)) / total;
    }

    static List<SloStatus> Slos(MergedSnapshot s, SloTargets t)
    {
        var slos = new List<SloStatus>();
        if (s.Distribution(MoeMetrics.RequestDurationSeconds) is { Count: > 0 } duration)
        {
            slos.Add(LatencySlo("latency_p50", duration, 0.5, t.RequestP50Seconds));
            slos.Add(LatencySlo("latency_p95", duration, 0.95, t.RequestP95Seconds));
            slos.Add(LatencySlo("latency_p99", duration, 0.99, t.RequestP99Seconds));
        }
        if (s.Distribution(MoeMetrics.RequestTokensPerSecond) is { Count: > 0 } rates)
        {
            // A floor: met when the 5th percentile is at or above target; burn = share under target / 5 %.
            double actual = rates.Quantile(0.05);
            double under = 1 - SketchRanks.FractionAbove(rates, t.MinRequestTokensPerSecond);
            slos.Add(new SloStatus("throughput", t.MinRequestTokensPerSecond, actual, actual >= t.MinRequestTokensPerSecond, under / 0.05));
        }
        if (s.Distribution(MoeMetrics.TimeToFirstTokenSeconds, Label(MoeMetrics.TimeToFirstTokenSeconds, "route", "stream")) is { Count: > 0 } ttft)
            slos.Add(LatencySlo("ttft_p95", ttft, 0.95, t.TtftP95Seconds));
        double bad = ServerErrorRatio(s);
        slos.Add(new SloStatus("error_rate", t.ErrorRatio, bad, bad <= t.ErrorRatio, bad / t.ErrorRatio));
        double availability = 1 - bad;
        slos.Add(new SloStatus("availability", t.Availability, availability, availability >= t.Availability, bad / (1 - t.Availability)));
        return slos;
    }

    /// <summary>A quantile objective: met when the quantile is under target; burn = share over target / share allowed over it.</summary>
    static SloStatus LatencySlo(string name, RelativeErrorSketch sketch, double quantile, double target)
    {
        double actual = sketch.Quantile(quantile);
        double over = SketchRanks.FractionAbove(sketch, target);
        return new SloStatus(name, target, actual, actual <= target, over / (1 - quantile));
    }

    static LatencySummary Summarise(RelativeErrorSketch sketch) =>
        new(sketch.Count, sketch.Sum / sketch.Count, sketch.Quantile(0.5), sketch.Quantile(0.9), sketch.Quantile(0.95), sketch.Quantile(0.99), sketch.Max);

    public static string Name(TelemetryWindow window) => TelemetryWindows.Name(window);

    public static TelemetryWindow Parse(string window) => TelemetryWindows.Parse(window);

    static Func<IReadOnlyList<string>, bool> Label(MetricDefinition metric, string label, string value) => Label(metric, label, v => v == value);

    static Func<IReadOnlyList<string>, bool> Label(MetricDefinition metric, string label, Func<string, bool> accept)
    {
        int index = metric.Labels.Select(l => l.Name).ToList().IndexOf(label);
        if (index < 0) throw new ArgumentException($"{metric.Name} has no label '{label}'");
        return labels => index < labels.Count && accept(labels[index]);
    }
}
