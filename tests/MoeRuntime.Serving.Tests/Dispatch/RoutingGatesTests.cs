using MoeRuntime.Model.Layers;
using MoeRuntime.Serving.Dispatch;
using static TorchSharp.torch;

namespace MoeRuntime.Serving.Tests.Dispatch;

public class RoutingGatesTests
{
    [Fact]
    public void ARecheckIsTheLayersGateOnTheListedRows()
    {
        var generator = new Generator(11);
        using var gate0 = new MoeGate(randn([4, 8], generator: generator), 2, normalizeTopK: true);
        using var gate1 = new MoeGate(randn([4, 8], generator: generator), 2, normalizeTopK: false);
        using Tensor input = randn([6, 8], generator: generator);
        var gates = new RoutingGates([gate0, gate1]);

        var (experts, weights, k) = gates.Recheck(1, input, [4, 1]);

        Assert.Equal(2, k);
        using Tensor rows = input.index_select(0, tensor(new long[] { 4, 1 }));
        var (expected, expectedWeights) = gate1.Route(rows);
        using (expected)
        using (expectedWeights)
        {
            Assert.Equal(expected.data<long>().ToArray().Select(e => (int)e), experts);
            Assert.Equal(expectedWeights.data<float>().ToArray(), weights);
        }
        Assert.Equal(2, gates.LayerCount);
    }

    [Fact]
    public void ALayerOrRowOutsideTheModelIsRefused()
    {
        using var gate = new MoeGate(ones([4, 8]), 2, normalizeTopK: true);
        using Tensor input = ones([3, 8]);
        var gates = new RoutingGates([gate]);
        Assert.Throws<ArgumentOutOfRangeException>(() => gates.Recheck(1, input, [0]));
        Assert.Contains("3 rows", Assert.Throws<ArgumentOutOfRangeException>(() => gates.Recheck(0, input, [3])).Message);
    }
}
