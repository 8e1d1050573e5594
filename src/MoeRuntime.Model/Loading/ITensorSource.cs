using static TorchSharp.torch;

namespace MoeRuntime.Model.Loading;

/// <summary>Where a model's weights come from, by their Hugging Face names: a checkpoint, or memory in tests.</summary>
public interface ITensorSource
{
    bool Contains(string name);

    /// <summary>Every tensor name the source holds.</summary>
    IEnumerable<string> Names { get; }

    /// <summary>The named tensor as float32 on the CPU; throws naming the tensor if it is missing or has another shape.</summary>
    Tensor Read(string name, long[] expectedShape);
}
