namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// Which expert grain a call tries on each attempt: the expert's default grain alone, or its replicas in
/// turn from a starting one and then its default grain (placed on a live rank whatever happened to the
/// replicas' ranks). A struct, so the common one-grain path allocates nothing for it.
/// </summary>
public readonly struct ExpertRoute(string defaultKey, string[]? replicas = null, int start = 0)
{
    /// <summary>Distinct grains the route cycles through.</summary>
    public int Choices => replicas is null ? 1 : replicas.Length + 1;

    /// <summary>The grain key for attempt 1, 2, ….</summary>
    public string KeyFor(int attempt)
    {
        if (replicas is null) return defaultKey;
        int index = (attempt - 1) % (replicas.Length + 1);
        return index < replicas.Length ? replicas[(start + index) % replicas.Length] : defaultKey;
    }
}
