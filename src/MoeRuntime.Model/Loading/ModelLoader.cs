using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Loading;

/// <summary>Loads a whole model from a Hugging Face checkpoint directory.</summary>
public static class ModelLoader
{
    public static MoeModel Load(string checkpointDirectory, Device device, IProgress<double>? progress = null, bool withExperts = true)
    {
        ModelConfig config = ModelConfigJson.Load(checkpointDirectory);
        using SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint.Open(checkpointDirectory);
        return MoeModelAssembler.Assemble(config, checkpoint, device, progress, withExperts);
    }
}
