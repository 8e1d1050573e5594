using MoeRuntime.Traces;

namespace MoeRuntime.Control.Replay;

/// <summary>
/// A routing trace reduced to what tier policies see: for every step and layer, the distinct experts
/// the step needed there (ascending) and how many tokens each received. Steps are renumbered densely
/// in trace order. Held in two flat arrays, so a long trace stays small.
/// </summary>
public sealed class ReplayTrace
{
    readonly int[] _offsets;
    readonly int[] _experts;
    readonly int[] _tokens;

    ReplayTrace(string model, int layers, int experts, int topK, long? expertBytes, int[] offsets, int[] needed, int[] tokens, long tokenLayers)
    {
        Model = model;
        Layers = layers;
        Experts = experts;
        TopK = topK;
        ExpertBytes = expertBytes;
        _offsets = offsets;
        _experts = needed;
        _tokens = tokens;
        TokenLayers = tokenLayers;
    }

    public string Model { get; }
    public int Layers { get; }
    public int Experts { get; }
    public int TopK { get; }
    public long? ExpertBytes { get; }
    public int Steps => (_offsets.Length - 1) / Layers;
    /// <summary>Expert accesses: each expert counted once per step and layer that needed it.</summary>
    public long Accesses => _experts.Length;
    /// <summary>Tokens routed, summed over layers.</summary>
    public long TokenLayers { get; }

    /// <summary>The experts step <paramref name="step"/> needed at <paramref name="layer"/>, ascending.</summary>
    public ReadOnlySpan<int> Needed(int step, int layer)
    {
        int at = step * Layers + layer;
        return _experts.AsSpan(_offsets[at], _offsets[at + 1] - _offsets[at]);
    }

    /// <summary>Tokens each of <see cref="Needed"/>'s experts received, same order.</summary>
    public ReadOnlySpan<int> Tokens(int step, int layer)
    {
        int at = step * Layers + layer;
        return _tokens.AsSpan(_offsets[at], _offsets[at + 1] - _offsets[at]);
    }

    public static ReplayTrace Load(string path)
    {
        using RoutingTraceReader reader = RoutingTraceReader.Open(path);
        return Load(reader);
    }

    public static ReplayTrace Load(RoutingTraceReader reader)
    {
        RoutingTraceHeader h = reader.Header;
        var builder = new Builder(h.Model, h.Layers, h.Experts, h.TopK, h.ExpertBytes);
        long current = -1;
        while (reader.TryRead(out RoutingTraceRecord record))
        {
            if (record.Step != current)
            {
                if (current >= 0) builder.EndStep();
                current = record.Step;
            }
            foreach (int e in record.Experts) builder.Use(record.Layer, e);
        }
        if (current >= 0) builder.EndStep();
        return builder.Build();
    }

    /// <summary>A trace from explicit per-step sets: <c>steps[s][layer]</c> lists the experts step s needed there (tests, generators).</summary>
    public static ReplayTrace FromSteps(int layers, int experts, IEnumerable<IReadOnlyList<int>[]> steps, long? expertBytes = null, int topK = 1)
    {
        var builder = new Builder("", layers, experts, topK, expertBytes);
        foreach (IReadOnlyList<int>[] step in steps)
        {
            if (step.Length != layers) throw new ArgumentException($"a step has {step.Length} layers, expected {layers}");
            for (int l = 0; l < layers; l++)
                foreach (int e in step[l]) builder.Use(l, e);
            builder.EndStep();
        }
        return builder.Build();
    }

    sealed class Builder(string model, int layers, int experts, int topK, long? expertBytes)
    {
        readonly int[] _counts = new int[layers * experts];
        readonly List<int> _offsets = [0];
        readonly List<int> _experts = [];
        readonly List<int> _tokens = [];
        long _tokenLayers;

        public void Use(int layer, int expert)
        {
            if ((uint)layer >= (uint)layers || (uint)expert >= (uint)experts) throw new ArgumentOutOfRangeException(nameof(expert), $"layer {layer}, expert {expert} outside {layers} x {experts}");
            _counts[layer * experts + expert]++;
            _tokenLayers++;
        }

        public void EndStep()
        {
            for (int l = 0; l < layers; l++)
            {
                Span<int> counts = _counts.AsSpan(l * experts, experts);
                for (int e = 0; e < experts; e++)
                {
                    if (counts[e] == 0) continue;
                    if (_experts.Count == int.MaxValue) throw new InvalidOperationException("the trace has more than 2^31 expert accesses");
                    _experts.Add(e);
                    _tokens.Add(counts[e]);
                    counts[e] = 0;
                }
                _offsets.Add(_experts.Count);
            }
        }

        public ReplayTrace Build() => new(model, layers, experts, topK, expertBytes, [.. _offsets], [.. _experts], [.. _tokens], _tokenLayers);
    }
}
