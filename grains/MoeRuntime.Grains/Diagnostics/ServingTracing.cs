using System.Diagnostics;

namespace MoeRuntime.Grains.Diagnostics;

/// <summary>
/// Spans of the serving path: the request at the router, expert dispatch per layer, the expert call
/// on its rank and the tier fetch a miss costs. Attribute names follow the OpenTelemetry GenAI
/// conventions where one exists (<c>gen_ai.*</c>).
/// </summary>
public static class ServingTracing
{
    public const string SourceName = "MoeRuntime.Serving";

    public static ActivitySource Source { get; } = new(SourceName);
}
