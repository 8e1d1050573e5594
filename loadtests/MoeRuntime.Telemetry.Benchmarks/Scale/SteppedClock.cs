namespace MoeRuntime.Telemetry.Benchmarks.Scale;

/// <summary>Simulated time: one interval passes per step, however long the machine takes for it.</summary>
internal sealed class SteppedClock(DateTimeOffset start) : TimeProvider
{
    public DateTimeOffset Now { get; private set; } = start;

    public void Step(TimeSpan interval) => Now += interval;

    public override DateTimeOffset GetUtcNow() => Now;
}
