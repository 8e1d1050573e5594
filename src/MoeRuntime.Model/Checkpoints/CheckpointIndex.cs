using System.Text.Json;

namespace MoeRuntime.Model.Checkpoints;

/// <summary>
/// The Hugging Face shard index, model.safetensors.index.json: {"metadata":{...},"weight_map":{tensor: shard file}}.
/// </summary>
internal static class CheckpointIndex
{
    internal const string FileName = "model.safetensors.index.json";

    /// <summary>Tensor name to shard file name, as listed in the index at <paramref name="path"/>.</summary>
    internal static Dictionary<string, string> ReadWeightMap(string path)
    {
        byte[] json;
        try
        {
            json = File.ReadAllBytes(path);
        }
        catch (IOException e)
        {
            throw new CheckpointException(path, null, $"could not be read: {e.Message}", e);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            throw new CheckpointException(path, null, $"is not valid JSON: {e.Message}", e);
        }

        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("weight_map", out var weightMap)
                || weightMap.ValueKind != JsonValueKind.Object)
            {
                throw new CheckpointException(path, null, "has no \"weight_map\" object");
            }

            var shards = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var entry in weightMap.EnumerateObject())
            {
                if (entry.Value.ValueKind != JsonValueKind.String)
                {
                    throw new CheckpointException(path, entry.Name, "is mapped to a non-string shard in \"weight_map\"");
                }

                string shard = entry.Value.GetString()!;
                // The index is untrusted: a shard must be a plain file next to it, never a path out of the directory.
                if (shard.Length == 0 || Path.GetFileName(shard) != shard || shard is "." or "..")
                {
                    throw new CheckpointException(path, entry.Name, $"is mapped to '{shard}', which is not a file name in the checkpoint directory");
                }

                if (!shards.TryAdd(entry.Name, shard))
                {
                    throw new CheckpointException(path, entry.Name, "is listed twice in \"weight_map\"");
                }
            }

            return shards;
        }
    }
}
