namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// Default expert grains whose rank just failed a call: for <see cref="Period"/> after the failure, calls go to a copy on
/// the calling rank first instead of paying the failed rank's connection error again on every layer of every step.
/// The period outlasts the cluster's failure detection, after which the default grain has re-activated on a live rank.
/// Reads are lock-free and allocate nothing; a failure copies the small set. Safe from any thread.
/// </summary>
public sealed class ExpertDetours(TimeSpan period)
{
    readonly Lock _lock = new();
    volatile Dictionary<string, long>? _until;
    readonly long _periodTicks = (long)(period.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);

    public TimeSpan Period { get; } = period > TimeSpan.Zero ? period : throw new ArgumentOutOfRangeException(nameof(period), period, "must be positive");

    /// <summary>Whether calls to <paramref name="defaultKey"/> go to the local copy first at <paramref name="nowTicks"/>.</summary>
    public bool Avoid(string defaultKey, long nowTicks) =>
        _until is { } until && until.TryGetValue(defaultKey, out long end) && nowTicks < end;

    /// <summary>Records that a call to <paramref name="defaultKey"/> failed with its rank at <paramref name="nowTicks"/>.</summary>
    public void Failed(string defaultKey, long nowTicks)
    {
        lock (_lock)
        {
            var next = new Dictionary<string, long>();
            if (_until is { } until)
                foreach ((string key, long end) in until)
                    if (end > nowTicks) next[key] = end;
            next[defaultKey] = nowTicks + _periodTicks;
            _until = next;
        }
    }

    /// <summary>Default grains avoided at <paramref name="nowTicks"/>.</summary>
    public int Count(long nowTicks) => _until is { } until ? until.Values.Count(end => nowTicks < end) : 0;
}
