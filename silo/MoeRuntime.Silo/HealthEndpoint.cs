using MoeRuntime.Grains.Routing;

namespace MoeRuntime.Silo;

/// <summary>
/// <c>/healthz</c>: the rank's readiness. 200 while its batching loop serves; 503 while the loop restarts after a failure,
/// drains for a stop, or is stopped, so a load balancer sends nothing to a rank that cannot take it. Both answers say
/// the loop's state and the cluster members this rank sees.
/// </summary>
public static class HealthEndpoint
{
    public static IResult Answer(RankReadiness readiness, int members) =>
        Results.Json(new { status = readiness.Status, members, batcher = readiness.Batcher, batcherRestarts = readiness.BatcherRestarts },
            statusCode: readiness.StatusCode);
}
