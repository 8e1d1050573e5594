using MoeRuntime.Model;
using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Dispatch;

/// <summary>
/// The gates of a model's layers and nothing else of it: what an expert's rank needs to re-check the router's routing of
/// the rows it was sent. The model that holds the gates owns them; this never disposes them.
/// </summary>
public sealed class RoutingGates
{
    readonly MoeGate[] _gates;

    public RoutingGates(IEnumerable<MoeGate> gates) => _gates = gates.ToArray();

    /// <summary>The gates of <paramref name="model"/>'s layers, in layer order.</summary>
    public static RoutingGates Of(MoeModel model) => new(model.Layers.Select(layer => layer.Moe.Gate));

    public int LayerCount => _gates.Length;

    /// <summary>
    /// Re-runs <paramref name="layer"/>'s gate on the rows <paramref name="rows"/> of <paramref name="input"/> ([n, hidden]):
    /// per listed row, its top-k experts (best first) and their weights, row after row, k values each.
    /// </summary>
    public (int[] Experts, float[] Weights, int TopK) Recheck(int layer, Tensor input, ReadOnlySpan<int> rows)
    {
        if ((uint)layer >= (uint)_gates.Length) throw new ArgumentOutOfRangeException(nameof(layer), layer, $"the model has {_gates.Length} layers");
        var indices = new long[rows.Length];
        for (int i = 0; i < rows.Length; i++)
        {
            if ((uint)rows[i] >= (ulong)input.shape[0]) throw new ArgumentOutOfRangeException(nameof(rows), rows[i], $"the input has {input.shape[0]} rows");
            indices[i] = rows[i];
        }
        using var scope = NewDisposeScope();
        Tensor picked = input.index_select(0, tensor(indices, device: input.device));
        var (experts, weights) = _gates[layer].Route(picked);
        int k = (int)experts.shape[1];
        return (experts.to(ScalarType.Int32).cpu().data<int>().ToArray(), weights.cpu().data<float>().ToArray(), k);
    }
}
