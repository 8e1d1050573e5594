using MoeRuntime.Model.Configuration;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Loading;

/// <summary>Builds an in-memory <see cref="MoeModel"/> from named tensors, checking every shape against the config.</summary>
public static class MoeModelAssembler
{
    /// <summary>
    /// Builds the model; with <paramref name="withExperts"/> false only the dense part (embeddings,
    /// attention, gates, norms, head) is read — what a router needs when experts live in expert grains.
    /// </summary>
    public static MoeModel Assemble(ModelConfig config, ITensorSource source, Device device, IProgress<double>? progress = null, bool withExperts = true)
    {
        var names = new CheckpointTensorNames(config.Architecture);
        RefuseUnusedTensors(config, source);
        long h = config.HiddenSize, v = config.VocabularySize;
        var layers = new List<DecoderLayer>(config.LayerCount);
        try
        {
            Tensor embedding = Load(source, CheckpointTensorNames.Embedding, [v, h], device);
            for (int layer = 0; layer < config.LayerCount; layer++)
            {
                layers.Add(LoadLayer(config, names, source, layer, device, withExperts));
                progress?.Report((layer + 1.0) / config.LayerCount);
            }
            Tensor finalNorm = Load(source, CheckpointTensorNames.FinalNorm, [h], device);
            Tensor lmHead = config.TieWordEmbeddings ? embedding : Load(source, CheckpointTensorNames.LmHead, [v, h], device);
            return new MoeModel(config, embedding, layers, finalNorm, lmHead, device);
        }
        catch
        {
            foreach (DecoderLayer layer in layers) layer.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Every tensor the model of <paramref name="config"/> reads, experts included (a router that leaves them
    /// to expert grains still accounts for them).
    /// </summary>
    public static IReadOnlySet<string> ExpectedTensors(ModelConfig config)
    {
        var names = new CheckpointTensorNames(config.Architecture);
        var expected = new HashSet<string>(StringComparer.Ordinal) { CheckpointTensorNames.Embedding, CheckpointTensorNames.FinalNorm };
        if (!config.TieWordEmbeddings) expected.Add(CheckpointTensorNames.LmHead);
        for (int layer = 0; layer < config.LayerCount; layer++)
        {
            expected.Add(CheckpointTensorNames.InputNorm(layer));
            expected.Add(CheckpointTensorNames.PostAttentionNorm(layer));
            foreach (char p in "qkvo") expected.Add(CheckpointTensorNames.Attention(layer, p));
            if (config.AttentionBias)
                foreach (char p in "qkv") expected.Add(CheckpointTensorNames.AttentionBias(layer, p));
            if (config.OutputBias) expected.Add(CheckpointTensorNames.AttentionBias(layer, 'o'));
            if (config.QueryKeyNorm || config.PerHeadQueryKeyNorm)
                foreach (char p in "qk") expected.Add(CheckpointTensorNames.AttentionNorm(layer, p));
            expected.Add(names.Gate(layer));
            for (int e = 0; e < config.ExpertCount; e++)
            {
                var (w1, w2, w3) = names.Expert(layer, e);
                expected.UnionWith([w1, w2, w3]);
            }
            if (config.SharedExpertIntermediateSize > 0)
            {
                var (w1, w2, w3) = names.SharedExpert(layer);
                expected.UnionWith([w1, w2, w3, names.SharedExpertGate(layer)]);
            }
        }
        return expected;
    }

    /// <summary>
    /// Tensors transformers itself never reads, so the runtime may leave them too: rotary
    /// <c>inv_freq</c> buffers older exports saved, and <c>lm_head.weight</c> when the head is tied to the embedding.
    /// </summary>
    public static bool IsDocumentedUnused(ModelConfig config, string name) =>
        name.EndsWith(".rotary_emb.inv_freq", StringComparison.Ordinal)
        || (config.TieWordEmbeddings && name == CheckpointTensorNames.LmHead);

    /// <summary>Refuses a checkpoint holding tensors the model would silently ignore, naming them.</summary>
    public static void RefuseUnusedTensors(ModelConfig config, ITensorSource source)
    {
        IReadOnlySet<string> expected = ExpectedTensors(config);
        string[] unused = source.Names.Where(n => !expected.Contains(n) && !IsDocumentedUnused(config, n)).Order(StringComparer.Ordinal).ToArray();
        if (unused.Length == 0) return;
        string shown = string.Join(", ", unused.Take(10)) + (unused.Length > 10 ? $" and {unused.Length - 10} more" : "");
        throw new Checkpoints.CheckpointException(source is Checkpoints.SafetensorsCheckpoint c ? c.Directory : "checkpoint", null,
            $"{unused.Length} tensor(s) the {config.Architecture} config does not use; refusing rather than ignoring them: {shown}");
    }

    /// <summary>One expert of one layer, read on its own (the unit an expert grain owns).</summary>
    public static ExpertFfn LoadExpert(ModelConfig config, ITensorSource source, int layer, int expert, Device device)
    {
        if ((uint)layer >= (uint)config.LayerCount || (uint)expert >= (uint)config.ExpertCount)
            throw new ArgumentOutOfRangeException(nameof(expert), $"expert {layer}/{expert} does not exist in a model of {config.LayerCount} layers x {config.ExpertCount} experts");
        var (w1, w2, w3) = new CheckpointTensorNames(config.Architecture).Expert(layer, expert);
        return LoadFfn(source, w1, w2, w3, config.HiddenSize, config.ExpertIntermediateSize, device);
    }

    static DecoderLayer LoadLayer(ModelConfig config, CheckpointTensorNames names, ITensorSource source, int layer, Device device, bool withExperts)
    {
        long h = config.HiddenSize, q = config.AttentionHeadCount * config.HeadDimension, kv = config.KeyValueHeadCount * config.HeadDimension;
        Tensor? Bias(char p, long size) => config.AttentionBias ? Load(source, CheckpointTensorNames.AttentionBias(layer, p), [size], device) : null;
        Tensor? Norm(char p, long size) =>
            config.QueryKeyNorm ? Load(source, CheckpointTensorNames.AttentionNorm(layer, p), [size], device)
            : config.PerHeadQueryKeyNorm ? Load(source, CheckpointTensorNames.AttentionNorm(layer, p), [config.HeadDimension], device)
            : null;

        var weights = new AttentionWeights(
            Load(source, CheckpointTensorNames.Attention(layer, 'q'), [q, h], device),
            Load(source, CheckpointTensorNames.Attention(layer, 'k'), [kv, h], device),
            Load(source, CheckpointTensorNames.Attention(layer, 'v'), [kv, h], device),
            Load(source, CheckpointTensorNames.Attention(layer, 'o'), [h, q], device),
            Bias('q', q), Bias('k', kv), Bias('v', kv), Norm('q', q), Norm('k', kv),
            config.OutputBias ? Load(source, CheckpointTensorNames.AttentionBias(layer, 'o'), [h], device) : null);
        var attention = new Attention(weights, config.AttentionHeadCount, config.KeyValueHeadCount, config.HeadDimension,
            config.RmsNormEpsilon, config.SlidingWindow, config.ClipQkv);

        var gate = new MoeGate(Load(source, names.Gate(layer), [config.ExpertCount, h], device), config.ExpertsPerToken, config.NormalizeTopKProbabilities);
        var experts = new ExpertFfn[withExperts ? config.ExpertCount : 0];
        for (int e = 0; e < experts.Length; e++) experts[e] = LoadExpert(config, source, layer, e, device);
        SharedExpert? shared = null;
        if (config.SharedExpertIntermediateSize > 0)
        {
            var (w1, w2, w3) = names.SharedExpert(layer);
            shared = new SharedExpert(
                LoadFfn(source, w1, w2, w3, config.HiddenSize, config.SharedExpertIntermediateSize, device),
                Load(source, names.SharedExpertGate(layer), [1, h], device));
        }
        return new DecoderLayer(layer,
            Load(source, CheckpointTensorNames.InputNorm(layer), [h], device),
            attention,
            Load(source, CheckpointTensorNames.PostAttentionNorm(layer), [h], device),
            new MoeBlock(gate, experts, shared),
            config.RmsNormEpsilon);
    }

    static ExpertFfn LoadFfn(ITensorSource source, string w1Name, string w2Name, string w3Name, long hidden, long intermediate, Device device)
    {
        using Tensor w1 = source.Read(w1Name, [intermediate, hidden]);
        using Tensor w2 = source.Read(w2Name, [hidden, intermediate]);
        using Tensor w3 = source.Read(w3Name, [intermediate, hidden]);
        return ExpertFfn.FromProjections(w1, w2, w3, device);
    }

    static Tensor Load(ITensorSource source, string name, long[] shape, Device device)
    {
        Tensor cpu = source.Read(name, shape);
        if (cpu.device_type == device.type && cpu.device_index == device.index) return cpu.DetachFromDisposeScope();
        using (cpu) return cpu.to(device).DetachFromDisposeScope();
    }
}
