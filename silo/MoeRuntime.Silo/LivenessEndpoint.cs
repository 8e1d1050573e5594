namespace MoeRuntime.Silo;

/// <summary>
/// <c>/livez</c>: "restart me" when it does not answer. 200 as long as the process serves HTTP at all, also while its
/// batching loop restarts after a failure (that is readiness, <see cref="HealthEndpoint"/>: the process recovers it
/// itself, and a restart would only lose the queued requests). A process that cannot answer within a probe's timeout,
/// for a liveness probe's whole failure threshold (thread pool starved, deadlocked), is wedged; the orchestrator
/// restarts it. No token: it says nothing but that the process is up.
/// </summary>
public static class LivenessEndpoint
{
    public static IResult Answer() => Results.Json(new { status = "alive" });
}
