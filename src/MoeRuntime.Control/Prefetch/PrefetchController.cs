using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Prefetch;

/// <summary>
/// Tunes how far ahead and how boldly ranks prefetch. Waste (prefetched bytes evicted unused) or failures mean
/// prefetching guesses too much: lookahead drops by one layer and the offending layers' thresholds rise. Stalls
/// with little waste mean it guesses too little: lookahead grows by one and the stalling layers' thresholds fall.
/// Between the two it holds, so the settings do not oscillate. Stateless: the current settings are an input.
/// </summary>
public sealed class PrefetchController
{
    readonly PrefetchControllerOptions _options;

    /// <exception cref="ArgumentException">The options are out of range.</exception>
    public PrefetchController(PrefetchControllerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
    }

    public string Name => "prefetch";

    public PrefetchPlan Plan(PrefetchInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        if (!(input.Interval > TimeSpan.Zero))
            throw new ArgumentException($"the interval must be positive, was {input.Interval}", nameof(input));
        PrefetchSettings current = input.Current;
        var thresholds = current.Thresholds.ToArray();
        foreach (PrefetchLayerStats layer in input.Layers)
        {
            if (layer.Layer < 0 || layer.Layer >= thresholds.Length)
                throw new ArgumentException($"layer {layer.Layer} has no threshold: the settings cover {thresholds.Length} layers", nameof(input));
            double step = Verdict(layer.WasteShare, layer.FailureShare, layer.StallSeconds, input.Interval) * -_options.ThresholdStep;
            thresholds[layer.Layer] = Math.Clamp(thresholds[layer.Layer] + step, _options.MinThreshold, _options.MaxThreshold);
        }

        double used = input.Layers.Sum(l => l.UsedBytes), wasted = input.Layers.Sum(l => l.WastedBytes);
        long issued = input.Layers.Sum(l => l.Issued), failures = input.Layers.Sum(l => l.Failures);
        double stall = input.Layers.Sum(l => l.StallSeconds);
        double waste = used + wasted > 0 ? wasted / (used + wasted) : 0;
        double failureShare = issued > 0 ? failures / (double)issued : 0;
        int verdict = Verdict(waste, failureShare, stall, input.Interval);
        int lookahead = Math.Clamp(current.Lookahead + verdict, 0, _options.MaxLookahead);

        string reason = verdict switch
        {
            < 0 => $"waste {waste:P0} or failures {failureShare:P0} too high: prefetch less and surer",
            > 0 => $"stalls {stall / input.Interval.TotalSeconds:P1} of the interval with waste {waste:P0}: prefetch further and bolder",
            _ => $"waste {waste:P0}, failures {failureShare:P0}, stalls {stall / input.Interval.TotalSeconds:P1} of the interval: holding",
        };
        var settings = new PrefetchSettings(lookahead, thresholds);
        var inputs = new Dictionary<string, double>
        {
            ["waste_share"] = waste,
            ["failure_share"] = failureShare,
            ["stall_s"] = stall,
            ["lookahead_before"] = current.Lookahead,
            ["lookahead_after"] = lookahead,
        };
        var decision = new ControlDecision(input.At, Name, null, inputs, $"lookahead {current.Lookahead} → {lookahead}", reason, DecisionOutcome.Proposed);
        return new PrefetchPlan(settings, reason, decision);
    }

    /// <summary>−1 to prefetch less (waste or failures high), +1 to prefetch more (stalls high, waste low), 0 to hold.</summary>
    int Verdict(double waste, double failures, double stallSeconds, TimeSpan interval) =>
        waste > _options.HighWasteShare || failures > _options.HighFailureShare ? -1
        : stallSeconds / interval.TotalSeconds > _options.HighStallShare && waste < _options.LowWasteShare ? 1
        : 0;
}
