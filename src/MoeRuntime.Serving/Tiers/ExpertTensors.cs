using MoeRuntime.Model.Checkpoints;

namespace MoeRuntime.Serving.Tiers;

/// <summary>
/// Where one expert's gate (w1), down (w2) and up (w3) projections lie in the checkpoint. Its raw bytes are the three
/// tensors' stored bytes in that order.
/// </summary>
public sealed record ExpertTensors(ExpertKey Key, TensorEntry W1, TensorEntry W2, TensorEntry W3)
{
    /// <summary>Stored bytes of the three tensors: what the warm tier holds.</summary>
    public long WarmBytes => W1.Length + W2.Length + W3.Length;

    /// <summary>Bytes of the float32 <see cref="Model.Layers.ExpertFfn"/>: what the hot tier holds.</summary>
    public long HotBytes => (Elements(W1) + Elements(W2) + Elements(W3)) * sizeof(float);

    static long Elements(TensorEntry entry) => entry.Length / entry.DType.ElementSize();
}
