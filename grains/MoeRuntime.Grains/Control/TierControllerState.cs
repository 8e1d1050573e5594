namespace MoeRuntime.Grains.Control;

/// <summary>What the tier controllers keep across activations (<see cref="Hosting.ControlStorage"/>).</summary>
[GenerateSerializer, Alias("moe.TierControllerState")]
public sealed class TierControllerState
{
    [Id(0)] public List<ExpertPin> Pins { get; set; } = [];
    /// <summary>The operator's run-time switch; null until one is made, when the configuration's <c>DryRun</c> holds.</summary>
    [Id(1)] public bool? DryRun { get; set; }
    [Id(2)] public TelemetrySamplingView Sampling { get; set; } = new();
}
