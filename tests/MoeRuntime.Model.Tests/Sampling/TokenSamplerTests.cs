using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Model.Tests.Sampling;

public class TokenSamplerTests
{
    static readonly float[] Logits = [0.5f, 2.0f, -1.0f, 1.5f, 0.0f];

    [Fact]
    public void GreedyPicksTheLargestLogit() =>
        Assert.Equal(1, new TokenSampler(SamplingOptions.Greedy, 5).Sample(Logits));

    [Fact]
    public void TopKOfOneIsGreedyWhateverTheTemperature() =>
        Assert.Equal(1, new TokenSampler(new SamplingOptions { Temperature = 5, TopK = 1, Seed = 1 }, 5).Sample(Logits));

    [Fact]
    public void TopKKeepsOnlyTheBestTokens()
    {
        var sampler = new TokenSampler(new SamplingOptions { Temperature = 10, TopK = 2, Seed = 42 }, 5);
        var seen = Enumerable.Range(0, 500).Select(_ => sampler.Sample(Logits)).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 3 }, seen);
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingTheMass()
    {
        // Probabilities at T=1: 0.39, 0.24, 0.15, 0.14, 0.05 for tokens 1, 3, 0, 4, 2. The first two hold 0.63.
        var sampler = new TokenSampler(new SamplingOptions { TopP = 0.6, Seed = 3 }, 5);
        var seen = Enumerable.Range(0, 500).Select(_ => sampler.Sample(Logits)).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 3 }, seen);
    }

    [Fact]
    public void SampleFrequenciesFollowTheSoftmax()
    {
        var sampler = new TokenSampler(new SamplingOptions { Seed = 2024 }, 5);
        var counts = new int[5];
        const int draws = 20000;
        for (int i = 0; i < draws; i++) counts[sampler.Sample(Logits)]++;
        double[] exp = Logits.Select(l => Math.Exp(l)).ToArray();
        for (int t = 0; t < 5; t++)
            Assert.InRange(counts[t] / (double)draws, exp[t] / exp.Sum() - 0.015, exp[t] / exp.Sum() + 0.015);
    }

    [Fact]
    public void TheSameSeedGivesTheSameStream()
    {
        var options = new SamplingOptions { Temperature = 1.3, Seed = 99 };
        int[] Draw() { var s = new TokenSampler(options, 5); return Enumerable.Range(0, 50).Select(_ => s.Sample(Logits)).ToArray(); }
        Assert.Equal(Draw(), Draw());
        Assert.NotEqual(Draw(), Enumerable.Range(0, 50).Select(_ => new TokenSampler(options with { Seed = 100 }, 5)).Select(s => s.Sample(Logits)).ToArray());
    }

    [Fact]
    public void NaNLogitsAreRefused() =>
        Assert.Throws<InvalidOperationException>(() => new TokenSampler(new SamplingOptions { Seed = 1 }, 3).Sample([0f, float.NaN, 1f]));

    [Theory]
    [InlineData(-0.5, 0, 1.0, 10, "temperature")]
    [InlineData(double.NaN, 0, 1.0, 10, "temperature")]
    [InlineData(1.0, -1, 1.0, 10, "top_k")]
    [InlineData(1.0, 0, 0.0, 10, "top_p")]
    [InlineData(1.0, 0, 1.5, 10, "top_p")]
    [InlineData(1.0, 0, 1.0, 0, "max_tokens")]
    public void InvalidOptionsAreRefusedByName(double temperature, int topK, double topP, int maxTokens, string field)
    {
        var options = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP, MaxTokens = maxTokens };
        var error = Assert.Throws<ArgumentException>(() => new TokenSampler(options, 5));
        Assert.Contains(field, error.Message);
    }
}
