namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// The settings a running rank takes from a reloaded configuration file, each with why it is safe to change live.
/// Everything else takes effect only after a restart of the rank (docs/configuration.md lists what and why).
/// </summary>
public static class LiveOptions
{
    /// <summary>Each live key, or key prefix ending in <c>:</c>, and why it is safe to change while requests run.</summary>
    public static IReadOnlyList<(string Key, string Why)> Keys { get; } =
    [
        ("Moe:Control:Latency:", "the latency controller's targets, steps and sampling bounds: read by the tier controllers at their next interval; the demand and hot allowance they keep carry over"),
        ("Moe:Control:MaxChangesPerInterval", "a guardrail checked per interval"),
        ("Moe:Control:HysteresisRatio", "a guardrail checked per interval"),
        ("Moe:Control:TransientHeadroomExperts", "the hot room left for transient copies, recomputed per interval"),
        ("Moe:Control:BalanceEveryIntervals", "when the controllers run the load balancer, counted per interval"),
        ("Moe:Control:Cost:", "the cost controller's prices and margin, read per interval"),
        ("Moe:MaxQueuedRequests", "the admission queue's bound, checked when a request arrives; requests already queued stay"),
        ("Telemetry:TraceSampleRatio", "head sampling of new request traces; the controllers' share of it still applies on top"),
    ];

    /// <summary>Keys under a live prefix of <see cref="Keys"/> that still need a restart, and why.</summary>
    public static IReadOnlyList<(string Key, string Why)> Exceptions { get; } =
    [
        ("Moe:Control:Latency:DemandHalfLifeIntervals", "the controllers keep each expert's demand decayed at this half-life; another one needs the demand rebuilt from the start"),
    ];

    /// <summary>Whether a changed <paramref name="key"/> takes effect without a restart.</summary>
    public static bool IsLive(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        foreach ((string exception, _) in Exceptions)
            if (key == exception) return false;
        foreach ((string live, _) in Keys)
            if (live.EndsWith(':') ? key.StartsWith(live, StringComparison.Ordinal) : key == live || key.StartsWith(live + ":", StringComparison.Ordinal))
                return true;
        return false;
    }
}
