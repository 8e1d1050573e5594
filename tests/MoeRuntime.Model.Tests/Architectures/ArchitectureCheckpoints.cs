using System.Text.Json;
using System.Text.Json.Nodes;
using MoeRuntime.Model.Checkpoints;
using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using MoeRuntime.Model.Loading;
using MoeRuntime.Model.Tests.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Architectures;

/// <summary>One config form of one architecture: what transformers makes of the file, and how the file departs from a full one.</summary>
public sealed record CheckpointForm(string Name, ModelConfig Stated, Action<JsonObject>? Edit = null, float EmbeddingScale = 1f,
    ScalarType Storage = ScalarType.Float32)
{
    public override string ToString() => Name;
}

/// <summary>Tiny checkpoints written to disk in a given config form, and greedy generation through the runtime.</summary>
static class ArchitectureCheckpoints
{
    public static readonly int[] Prompt = [3, 7, 0, 15, 9];
    public const int NewTokens = 8;

    public static ModelConfig Tiny(ModelArchitecture architecture) => TinyModelWeights.TinyConfig(architecture) with
    {
        EndOfSequenceTokenIds = [],
        MaxPositionEmbeddings = 64,
    };

    /// <summary>Writes <paramref name="weights"/> (sharded safetensors) and the form's config.json into <paramref name="directory"/>.</summary>
    public static void Write(string directory, CheckpointForm form, TinyModelWeights weights,
        IEnumerable<KeyValuePair<string, float[]>>? extraTensors = null)
    {
        using var scope = NewDisposeScope();
        if (form.Storage != ScalarType.Float32)
            // The reference reads the weights as stored: rounded to the storage type, which then stores them exactly.
            foreach (string name in weights.Arrays.Keys.ToArray())
                weights.Arrays[name] = tensor(weights.Arrays[name]).to(form.Storage).to(ScalarType.Float32).data<float>().ToArray();
        using InMemoryTensorSource source = weights.ToSource();
        var tensors = source.Tensors.Select(t => KeyValuePair.Create(t.Key, t.Value.to(form.Storage))).ToList();
        foreach (var (name, data) in extraTensors ?? [])
            tensors.Add(KeyValuePair.Create(name, tensor(data)));
        SafetensorsWriter.WriteSharded(directory, tensors, maxShardBytes: 64 * 1024);
        ModelConfigJson.Save(form.Stated, directory);
        string path = Path.Combine(directory, ModelConfigJson.FileName);
        var root = (JsonObject)JsonNode.Parse(File.ReadAllText(path))!;
        form.Edit?.Invoke(root);
        File.WriteAllText(path, root.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }

    /// <summary>Greedy generation through <see cref="MoeModel.Forward"/>: prompt in one pass, then a token per pass.</summary>
    public static List<(int Token, float[] Logits, int[][][] Routing)> Generate(MoeModel model, int[] prompt, int newTokens)
    {
        var steps = new List<(int, float[], int[][][])>();
        using KvCache cache = model.CreateCache();
        int[] chunk = prompt;
        for (int i = 0; i < newTokens; i++)
        {
            using var scope = NewDisposeScope();
            var routing = new int[model.Config.LayerCount][][];
            Tensor logits = model.Forward([new SequenceStep(cache, chunk)], observe: (layer, plan) =>
            {
                var perToken = new int[plan.TokenCount][];
                for (int t = 0; t < plan.TokenCount; t++)
                    perToken[t] = plan.ChosenExperts.Skip(t * plan.TopK).Take(plan.TopK).ToArray();
                routing[layer] = perToken;
            });
            float[] last = logits.data<float>().ToArray();
            int token = 0;
            for (int v = 1; v < last.Length; v++)
                if (last[v] > last[token]) token = v;
            steps.Add((token, last, routing));
            chunk = [token];
        }
        return steps;
    }

    /// <summary>The runtime's greedy tokens, routing and logits equal the reference's, step by step.</summary>
    public static void AssertMatchesReference(CheckpointForm form, TinyModelWeights weights, MoeModel model)
    {
        List<ReferenceStep> expected = new TransformersReference(form.Stated, weights).Generate(Prompt, NewTokens);
        var actual = Generate(model, Prompt, NewTokens);
        for (int step = 0; step < expected.Count; step++)
        {
            for (int v = 0; v < expected[step].Logits.Length; v++)
                Assert.True(Math.Abs(expected[step].Logits[v] - actual[step].Logits[v]) < 1e-4,
                    $"{form.Name}: step {step}, logit {v}: transformers {expected[step].Logits[v]}, runtime {actual[step].Logits[v]}");
            Assert.True(expected[step].Token == actual[step].Token, $"{form.Name}: step {step}: token {expected[step].Token} expected, {actual[step].Token} generated");
            for (int layer = 0; layer < expected[step].Routing.Length; layer++)
                for (int t = 0; t < expected[step].Routing[layer].Length; t++)
                    Assert.True(expected[step].Routing[layer][t].SequenceEqual(actual[step].Routing[layer][t]),
                        $"{form.Name}: step {step}, layer {layer}, position {t}: experts [{string.Join(",", expected[step].Routing[layer][t])}] expected, [{string.Join(",", actual[step].Routing[layer][t])}] routed");
        }
    }
}
