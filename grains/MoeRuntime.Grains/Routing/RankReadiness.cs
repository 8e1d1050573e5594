using MoeRuntime.Model.Generation;

namespace MoeRuntime.Grains.Routing;

/// <summary>Whether a rank takes requests, for its readiness check (<c>/healthz</c>).</summary>
/// <param name="Ready">True only while the batching loop serves: not while the rank warms up, nor while the loop restarts after a failure, drains or is stopped.</param>
/// <param name="Batcher">The loop's state: warming (serving the rank's warm-up, <c>Moe:WarmupRequests</c>), serving, restarting, draining or stopped.</param>
/// <param name="BatcherRestarts">Times the loop restarted after an unexpected failure since the rank started.</param>
public sealed record RankReadiness(bool Ready, string Batcher, long BatcherRestarts)
{
    /// <summary>The HTTP status a readiness check answers: 200 when ready, else 503.</summary>
    public int StatusCode => Ready ? 200 : 503;

    /// <summary>What the check's body says the rank is doing.</summary>
    public string Status => Ready ? "serving" : "unavailable";

    public static RankReadiness Of(BatcherHealth health, long restarts, bool warming = false) =>
        warming && health == BatcherHealth.Serving
            ? new(false, "warming", restarts)
            : new(health == BatcherHealth.Serving, health.ToString().ToLowerInvariant(), restarts);
}
