using MoeRuntime.Control.Planning;

namespace MoeRuntime.Control.Prefetch;

/// <summary>
/// The prefetch controller's loop: turns each read of the ranks' cumulative prefetch counters into one interval's
/// per-layer stats (<see cref="PrefetchIntervals"/>), asks <see cref="PrefetchController"/> for a plan over the layers
/// that saw prefetches or stalls, and describes the decision as the decision log keeps it. The caller applies the
/// settings it returns (or only proposes them in a dry run) and keeps them across restarts.
/// </summary>
public sealed class PrefetchControlLoop(PrefetchControllerOptions options)
{
    public const string Controller = "prefetch";

    readonly PrefetchController _policy = new(options);
    readonly PrefetchIntervals _intervals = new();

    /// <summary>Takes a read as the baseline: the next interval counts only what happened after it.</summary>
    public void Baseline(IReadOnlyList<RankPrefetchCounters> read, int layers, IReadOnlyCollection<int> unreachable) =>
        _intervals.Advance(read, layers, unreachable);

    /// <summary>
    /// One interval from the ranks' counters in <paramref name="read"/>: null when no layer saw a prefetch or a stall
    /// (nothing to judge), else the plan from <paramref name="current"/> and its decision, applied or (dry run) proposed.
    /// </summary>
    public PrefetchDecision? Decide(
        DateTimeOffset at, TimeSpan interval, PrefetchSettings current, IReadOnlyList<RankPrefetchCounters> read, int layerCount,
        IReadOnlyCollection<int> unreachable, bool dryRun)
    {
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(read);
        PrefetchLayerStats[] layers = _intervals.Advance(read, layerCount, unreachable);
        if (!PrefetchIntervals.AnyActivity(layers)) return null;

        if (interval <= TimeSpan.Zero) interval = TimeSpan.FromMilliseconds(1);
        // Only layers that saw prefetches or stalls are judged; the others keep their thresholds.
        PrefetchLayerStats[] active = [.. layers.Where(l => PrefetchIntervals.AnyActivity([l]))];
        PrefetchPlan plan = _policy.Plan(new PrefetchInput(at, interval, current, active));
        var inputs = new Dictionary<string, double>(plan.Decision.Inputs)
        {
            ["interval_s"] = interval.TotalSeconds,
            ["ranks"] = read.Count,
            ["issued"] = layers.Sum(l => l.Issued),
            ["used_bytes"] = layers.Sum(l => l.UsedBytes),
            ["wasted_bytes"] = layers.Sum(l => l.WastedBytes),
            ["failures"] = layers.Sum(l => l.Failures),
        };
        var decision = new ControlDecision(plan.Decision.At, Controller, null, inputs, PrefetchSettingsChanges.Describe(current, plan.Settings), plan.Reason,
            dryRun ? DecisionOutcome.Proposed : DecisionOutcome.Applied);
        return new PrefetchDecision(plan.Settings, !PrefetchSettingsChanges.Same(current, plan.Settings), decision);
    }
}

/// <summary>An interval's prefetch decision: the settings it wants, whether they differ from the current ones, and the record.</summary>
public sealed record PrefetchDecision(PrefetchSettings Settings, bool Changed, ControlDecision Decision);
