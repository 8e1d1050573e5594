using System.Diagnostics;

namespace MoeRuntime.Model.Generation;

/// <summary>
/// Spans of the generation path, named after the stages of a request: queue, prefill, decode (with an
/// event every <see cref="TokenEventInterval"/> tokens) and the batched forward steps in between.
/// </summary>
public static class GenerationTracing
{
    public const string SourceName = "MoeRuntime.Generation";
    public const int TokenEventInterval = 16;

    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>
    /// Starts a span without making it the caller's current activity: a request's stage spans live
    /// beside the code that starts them (the router grain, the batching loop), not around it.
    /// </summary>
    public static Activity? StartDetached(string name, ActivityContext parent)
    {
        Activity? previous = Activity.Current;
        Activity? started = Source.StartActivity(name, ActivityKind.Internal, parent);
        Activity.Current = previous;
        return started;
    }
}
