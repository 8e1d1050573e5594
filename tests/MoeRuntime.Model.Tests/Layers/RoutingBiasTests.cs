using MoeRuntime.Model.Layers;
using static TorchSharp.torch;

namespace MoeRuntime.Model.Tests.Layers;

public class RoutingBiasTests
{
    const int Experts = 6, Hidden = 16, Tokens = 20;

    static (MoeGate Gate, Tensor Weight, Tensor Hidden) Gate(bool normalize)
    {
        var generator = new Generator(7);
        Tensor weight = randn([Experts, Hidden], generator: generator);
        return (new MoeGate(weight, 2, normalize), weight, randn([Tokens, Hidden], generator: generator));
    }

    sealed class Avoid(int expert) : IRoutingBias
    {
        public bool Adjust(int layer, ReadOnlySpan<float> probabilities, int experts, Span<float> scores)
        {
            probabilities.CopyTo(scores);
            for (int i = expert; i < scores.Length; i += experts) scores[i] = float.NegativeInfinity;
            return true;
        }
    }

    sealed class Declines : IRoutingBias
    {
        public bool Adjust(int layer, ReadOnlySpan<float> probabilities, int experts, Span<float> scores) => false;
    }

    [Fact]
    public void A_bias_that_declines_routes_exactly_as_the_gate()
    {
        var (gate, _, hidden) = Gate(normalize: false);
        using RoutingPlan plain = gate.Plan(hidden);
        using RoutingPlan declined = gate.Plan(hidden, 0, new Declines());
        Assert.False(declined.Biased);
        Assert.Equal(plain.ChosenExperts, declined.ChosenExperts);
        Assert.Equal(plain.ChosenWeights, declined.ChosenWeights);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Top_k_follows_the_bias_while_weights_stay_the_gates_probabilities(bool normalize)
    {
        var (gate, weight, hidden) = Gate(normalize);
        using RoutingPlan plain = gate.Plan(hidden);
        int avoided = plain.ChosenExperts[0];
        using RoutingPlan biased = gate.Plan(hidden, 3, new Avoid(avoided));

        Assert.True(biased.Biased);
        Assert.DoesNotContain(avoided, biased.ChosenExperts);
        Tensor probabilities = nn.functional.linear(hidden, weight).softmax(-1);
        float[] p = probabilities.data<float>().ToArray();
        for (int t = 0; t < Tokens; t++)
        {
            float a = p[t * Experts + biased.ChosenExperts[t * 2]], b = p[t * Experts + biased.ChosenExperts[t * 2 + 1]];
            Assert.True(a >= b, "the better of the two allowed experts comes first");
            float scale = normalize ? a + b : 1;
            Assert.Equal(a / scale, biased.ChosenWeights[t * 2], 5);
            Assert.Equal(b / scale, biased.ChosenWeights[t * 2 + 1], 5);
        }
    }
}
