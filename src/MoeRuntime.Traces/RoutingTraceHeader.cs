namespace MoeRuntime.Traces;

/// <summary>
/// The first line of a routing trace: what produced it and the shape every record must fit.
/// Written as <c>{"format":"moe-routing-trace","version":1,"model":..,"layers":..,"experts":..,"top_k":..,"expert_bytes":..}</c>.
/// </summary>
public sealed record RoutingTraceHeader
{
    public const string FormatName = "moe-routing-trace";
    public const int CurrentVersion = 1;
    /// <summary>Upper bounds the reader enforces on a header (traces are untrusted input).</summary>
    public const int MaxLayers = 4096, MaxExperts = 65536, MaxTopK = 256;

    public int Version { get; init; } = CurrentVersion;
    /// <summary>A name for the model; free text, at most 256 characters.</summary>
    public string Model { get; init; } = "";
    public required int Layers { get; init; }
    /// <summary>Routed experts per layer.</summary>
    public required int Experts { get; init; }
    /// <summary>Experts chosen per token (a record may list fewer for a token, never more).</summary>
    public required int TopK { get; init; }
    /// <summary>Bytes one expert occupies in the hot tier, when known.</summary>
    public long? ExpertBytes { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> when a field is out of range.</summary>
    public void Validate()
    {
        if (Version != CurrentVersion) throw new ArgumentException($"version {Version} is not supported (this build reads version {CurrentVersion})");
        if (Layers is < 1 or > MaxLayers) throw new ArgumentException($"layers must be 1..{MaxLayers}, got {Layers}");
        if (Experts is < 1 or > MaxExperts) throw new ArgumentException($"experts must be 1..{MaxExperts}, got {Experts}");
        if (TopK < 1 || TopK > MaxTopK || TopK > Experts) throw new ArgumentException($"top_k must be 1..min({MaxTopK}, experts), got {TopK}");
        if (ExpertBytes is < 0) throw new ArgumentException($"expert_bytes must not be negative, got {ExpertBytes}");
        if (Model.Length > 256) throw new ArgumentException("model is longer than 256 characters");
    }
}
