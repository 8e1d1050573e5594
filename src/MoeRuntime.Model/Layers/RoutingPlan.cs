using static TorchSharp.torch;

namespace MoeRuntime.Model.Layers;

/// <summary>
/// A batch's tokens grouped by the expert they were routed to, so that each expert runs once on all
/// of its tokens. Built on the CPU by a stable counting sort of the gate's top-k choices.
/// </summary>
public sealed class RoutingPlan : IDisposable
{
    readonly int[] _starts;
    readonly Tensor _tokens;
    readonly Tensor _weights;

    RoutingPlan(int tokenCount, int topK, int[] chosen, float[] chosenWeights, int[] starts, Tensor tokens, Tensor weights, bool biased)
    {
        Biased = biased;
        ChosenWeights = chosenWeights;
        TokenCount = tokenCount;
        TopK = topK;
        ChosenExperts = chosen;
        _starts = starts;
        _tokens = tokens;
        _weights = weights;
    }

    public int TokenCount { get; }

    /// <summary>Top-k was taken from scores an <see cref="IRoutingBias"/> adjusted, so re-gating the same tokens may choose otherwise.</summary>
    public bool Biased { get; }
    public int TopK { get; }
    public int ExpertCount => _starts.Length - 1;

    /// <summary>Expert chosen for token t in slot s at index t * TopK + s, best first.</summary>
    public IReadOnlyList<int> ChosenExperts { get; }

    /// <summary>The gate weight of each choice in <see cref="ChosenExperts"/>, same layout.</summary>
    public IReadOnlyList<float> ChosenWeights { get; }

    public int TokenCountFor(int expert) => _starts[expert + 1] - _starts[expert];

    /// <summary>Experts with at least one token, in ascending order.</summary>
    public IEnumerable<int> ActiveExperts()
    {
        for (int e = 0; e < ExpertCount; e++)
            if (TokenCountFor(e) > 0) yield return e;
    }

    /// <summary>Indices into the batch of the tokens routed to <paramref name="expert"/> (int64).</summary>
    public Tensor TokenIndices(int expert) => _tokens.narrow(0, _starts[expert], TokenCountFor(expert));

    /// <summary>The routing weight of each of those tokens for that expert (float32).</summary>
    public Tensor Weights(int expert) => _weights.narrow(0, _starts[expert], TokenCountFor(expert));

    /// <summary>The rows of <paramref name="hidden"/> that go to <paramref name="expert"/>.</summary>
    public Tensor Gather(Tensor hidden, int expert) => hidden.index_select(0, TokenIndices(expert));

    /// <summary>Adds an expert's weighted outputs back into the rows of its tokens.</summary>
    public void Accumulate(Tensor output, int expert, Tensor expertOutput)
    {
        // In place into the step's output, which the shared expert may have made in inference mode.
        using IDisposable mode = Inference.Enter();
        using Tensor weights = Weights(expert).unsqueeze(1);
        using Tensor weighted = expertOutput * weights;
        using Tensor indices = TokenIndices(expert);
        output.index_add_(0, indices, weighted, Scalars.One);
    }

    /// <summary>Keeps the plan's tensors alive beyond the current dispose scope (the caller disposes the plan).</summary>
    public void DetachFromDisposeScope()
    {
        _tokens.DetachFromDisposeScope();
        _weights.DetachFromDisposeScope();
    }

    public void Dispose()
    {
        _tokens.Dispose();
        _weights.Dispose();
    }

    /// <summary>Groups top-k choices [tokens, k] (int64) and their weights [tokens, k] (float32).</summary>
    public static RoutingPlan Build(Tensor experts, Tensor weights, int expertCount, bool biased = false)
    {
        int tokenCount = (int)experts.shape[0], topK = (int)experts.shape[1];
        using Tensor cpuExperts = experts.to(ScalarType.Int32).cpu();
        int[] chosen = cpuExperts.data<int>().ToArray();
        using Tensor cpuWeights = weights.to(ScalarType.Float32).cpu().contiguous();
        float[] chosenWeights = cpuWeights.data<float>().ToArray();

        var starts = new int[expertCount + 1];
        foreach (int e in chosen)
        {
            if ((uint)e >= (uint)expertCount) throw new InvalidOperationException($"gate chose expert {e} of {expertCount}");
            starts[e + 1]++;
        }
        for (int e = 0; e < expertCount; e++) starts[e + 1] += starts[e];

        var next = (int[])starts.Clone();
        var slotOrder = new long[chosen.Length];
        var tokenOrder = new long[chosen.Length];
        for (int slot = 0; slot < chosen.Length; slot++)
        {
            int at = next[chosen[slot]]++;
            slotOrder[at] = slot;
            tokenOrder[at] = slot / topK;
        }

        Device device = experts.device;
        Tensor tokens = tensor(tokenOrder, device: device);
        using Tensor slots = tensor(slotOrder, device: device);
        using Tensor flatWeights = weights.reshape(-1);
        Tensor orderedWeights = flatWeights.index_select(0, slots);
        return new RoutingPlan(tokenCount, topK, chosen, chosenWeights, starts, tokens, orderedWeights, biased);
    }
}
