using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Loading;

namespace MoeRuntime.Model.DefaultModel;

/// <summary>
/// Writes the built-in model as a Hugging Face checkpoint directory with its SHA-256 manifest
/// (<see cref="CheckpointManifest"/>); the same seed gives the same bytes.
/// </summary>
public static class DefaultModelWriter
{
    public static void Write(string directory, DefaultModelRecipe? recipe = null, IProgress<string>? progress = null)
    {
        recipe ??= new DefaultModelRecipe();
        progress?.Report("generating weights");
        using InMemoryTensorSource weights = DefaultModelWeights.Generate(recipe);
        progress?.Report("writing safetensors shards");
        SafetensorsWriter.WriteSharded(directory, weights.Tensors, recipe.MaxShardBytes);
        ModelConfigJson.Save(recipe.Config, directory);
        progress?.Report("writing the SHA-256 manifest");
        CheckpointManifest.Write(directory);
        progress?.Report("done");
    }

    /// <summary>True when <paramref name="directory"/> already holds a checkpoint (config and weights).</summary>
    public static bool Exists(string directory) =>
        File.Exists(Path.Combine(directory, ModelConfigJson.FileName))
        && Directory.EnumerateFiles(directory, "*.safetensors").Any();
}
