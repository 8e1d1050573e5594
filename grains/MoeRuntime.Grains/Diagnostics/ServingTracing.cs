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
    public const string RequestSpanName = "moe.request";

    public static ActivitySource Source { get; } = new(SourceName);

    /// <summary>
    /// Starts a request's span. A caller's sampled trace is continued: the span is its child and is kept. Any other
    /// context around the call (an unsampled caller, or the unsampled span the grain call or the HTTP server opened
    /// for an ordinary request without a <c>traceparent</c>) would make a parent-based sampler drop every request, so
    /// the request starts a trace of its own, decided by head sampling at <c>Telemetry:TraceSampleRatio</c>, with a
    /// link to that context so a trace store can still relate the two.
    /// </summary>
    public static Activity? StartRequest()
    {
        Activity? around = Activity.Current;
        if (around is null || around.Recorded) return Source.StartActivity(RequestSpanName, ActivityKind.Server);
        if (!Source.HasListeners()) return null;
        Activity.Current = null;
        Activity? span = Source.StartActivity(RequestSpanName, ActivityKind.Server, parentContext: default, links: [new ActivityLink(around.Context)]);
        // Not started: the call's own context stays current. Started: the span is current and, once stopped, has no parent to restore.
        if (span is null) Activity.Current = around;
        return span;
    }
}
