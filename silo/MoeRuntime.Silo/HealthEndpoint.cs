using MoeRuntime.Grains.Routing;

namespace MoeRuntime.Silo;

/// <summary>
/// <c>/healthz</c>: the rank's readiness. 200 while its batching loop serves; 503 while the loop restarts after a failure,
/// drains for a stop, or is stopped, so a load balancer sends nothing to a rank that cannot take it. Both answers say
/// the loop's state, the cluster members this rank sees (every entry of the membership table, a stopped rank's too, until
/// the table drops it) and how many of them are active (what a rolling restart waits for: a restarted rank adds an entry).
/// </summary>
public static class HealthEndpoint
{
    public static IResult Answer(RankReadiness readiness, int members, int active) =>
        Results.Json(new { status = readiness.Status, members, active, batcher = readiness.Batcher, batcherRestarts = readiness.BatcherRestarts },
            statusCode: readiness.StatusCode);
}
