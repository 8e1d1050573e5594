using MoeRuntime.Model.Generation;

namespace MoeRuntime.Grains.Hosting;

/// <summary>
/// Shadow evaluation of a candidate checkpoint on live requests (section <c>Moe:Shadow</c>, docs/drift.md): off unless
/// <see cref="CandidatePath"/> is set. Read at start-up; a change waits for a restart.
/// </summary>
public sealed class ShadowOptions
{
    /// <summary>
    /// The candidate checkpoint directory (same tokenizer and shape as the primary); empty = no shadow. Each router rank then
    /// also loads the primary and the candidate whole, in process, on the CPU.
    /// </summary>
    public string CandidatePath { get; set; } = "";
    /// <summary>Share (0..1) of finished requests the candidate scores, chosen by request id so every rank chooses alike.</summary>
    public double Share { get; set; } = 0.1;
    /// <summary>Sampled requests waiting to be scored at most; a request sampled while the backlog is full is dropped and counted.</summary>
    public int MaxQueue { get; set; } = 32;
    /// <summary>The bounds the cluster view's shadow section judges the candidate by (<see cref="ShadowGate"/>, the offline gate's).</summary>
    public ShadowGate Gate { get; set; } = new();
}
