namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// Which expert grain a call tries on each attempt: the expert's default grain alone, or its replicas in
/// turn from a starting one and then its default grain (placed on a live rank whatever happened to the
/// replicas' ranks), and last a copy on the calling rank (<paramref name="localKey"/>), which answers while the
/// default grain's rank is lost and not yet declared dead. With <paramref name="avoidDefault"/> (the default grain
/// failed moments ago) the local copy comes before the default grain. A struct, so the common one-grain path
/// allocates nothing for it.
/// </summary>
public readonly struct ExpertRoute(string defaultKey, string[]? replicas = null, int start = 0, string? localKey = null, bool avoidDefault = false)
{
    readonly string? _local = localKey is not null && localKey != defaultKey && (replicas is null || Array.IndexOf(replicas, localKey) < 0) ? localKey : null;

    /// <summary>Distinct grains the route cycles through.</summary>
    public int Choices => (replicas?.Length ?? 0) + 1 + (_local is null ? 0 : 1);

    /// <summary>The copy on the calling rank, when it is not already one of the route's other grains.</summary>
    public string? Local => _local;

    /// <summary>The expert's default grain.</summary>
    public string Default => defaultKey;

    /// <summary>The grain key for attempt 1, 2, ….</summary>
    public string KeyFor(int attempt)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(attempt);
        int count = replicas?.Length ?? 0;
        int index = (attempt - 1) % Choices;
        if (index < count) return replicas![(start + index) % count];
        if (_local is null) return defaultKey;
        bool first = index == count;
        return first != avoidDefault ? defaultKey : _local;
    }
}
