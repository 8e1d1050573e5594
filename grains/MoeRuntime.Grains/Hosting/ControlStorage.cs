namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// The grain storage the controllers keep what operators set in: pins, the run-time dry-run switch, the telemetry
/// sampling, the prefetch settings and the placement map, so that a controller or placement grain that moves to
/// another silo keeps honouring them.
/// The host registers it under <see cref="Name"/>: in memory for a single localhost silo, in Redis for a Redis cluster.
/// </summary>
public static class ControlStorage
{
    public const string Name = "moe-control";
}
