namespace MoeRuntime.Model.Checkpoints;

/// <summary>Where one tensor's bytes live in a checkpoint, as its shard's header describes them.</summary>
/// <param name="Name">The tensor's name in the checkpoint.</param>
/// <param name="File">Full path of the shard that holds the tensor.</param>
/// <param name="DType">Element type of the stored bytes.</param>
/// <param name="Shape">Dimensions; empty for a scalar.</param>
/// <param name="Offset">Absolute byte offset of the tensor's data in <paramref name="File"/>.</param>
/// <param name="Length">Number of data bytes: the element count times the element size.</param>
public sealed record TensorEntry(string Name, string File, TensorDType DType, long[] Shape, long Offset, long Length);
