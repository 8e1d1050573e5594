using MoeRuntime.Model.Sampling;

namespace MoeRuntime.Model.Tests.Sampling;

public class TokenSamplerTests
{
    static readonly float[] Logits = [0.5f, 2.0f, -1.0f, 1.5f, 0.0f];

    [Fact]
    public void GreedyPicksTheLargestLogit() =>
        Assert.Equal(1, new TokenSampler(SamplingOptions.Greedy, 5).Sample(Logits, 0));

    [Fact]
    public void TopKOfOneIsGreedyWhateverTheTemperature() =>
        Assert.Equal(1, new TokenSampler(new SamplingOptions { Temperature = 5, TopK = 1, Seed = 1 }, 5).Sample(Logits, 0));

    [Fact]
    public void TopKKeepsOnlyTheBestTokens()
    {
        var sampler = new TokenSampler(new SamplingOptions { Temperature = 10, TopK = 2, Seed = 42 }, 5);
        var seen = Enumerable.Range(0, 500).Select(i => sampler.Sample(Logits, i)).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 3 }, seen);
    }

    [Fact]
    public void TopPKeepsTheSmallestSetReachingTheMass()
    {
        // Probabilities at T=1: 0.39, 0.24, 0.15, 0.14, 0.05 for tokens 1, 3, 0, 4, 2. The first two hold 0.63.
        var sampler = new TokenSampler(new SamplingOptions { TopP = 0.6, Seed = 3 }, 5);
        var seen = Enumerable.Range(0, 500).Select(i => sampler.Sample(Logits, i)).ToHashSet();
        Assert.Equal(new HashSet<int> { 1, 3 }, seen);
    }

    [Fact]
    public void SampleFrequenciesFollowTheSoftmax()
    {
        var sampler = new TokenSampler(new SamplingOptions { Seed = 2024 }, 5);
        var counts = new int[5];
        const int draws = 20000;
        for (int i = 0; i < draws; i++) counts[sampler.Sample(Logits, i)]++;
        double[] exp = Logits.Select(l => Math.Exp(l)).ToArray();
        for (int t = 0; t < 5; t++)
            Assert.InRange(counts[t] / (double)draws, exp[t] / exp.Sum() - 0.015, exp[t] / exp.Sum() + 0.015);
    }

    [Fact]
    public void TheSameSeedGivesTheSameStream()
    {
        var options = new SamplingOptions { Temperature = 1.3, Seed = 99 };
        int[] Draw() { var s = new TokenSampler(options, 5); return Enumerable.Range(0, 50).Select(i => s.Sample(Logits, i)).ToArray(); }
        Assert.Equal(Draw(), Draw());
        Assert.NotEqual(Draw(), Enumerable.Range(0, 50).Select(i => new TokenSampler(options with { Seed = 100 }, 5).Sample(Logits, i)).ToArray());
    }

    [Fact]
    public void ADrawDependsOnSeedAndPositionOnlyNotOnEarlierDraws()
    {
        var options = new SamplingOptions { Temperature = 2.0, Seed = 7 };
        var fresh = new TokenSampler(options, 5);
        int[] straight = Enumerable.Range(0, 64).Select(p => fresh.Sample(Logits, p)).ToArray();
        // A second sampler that starts at position 40, as a resumed request does, draws what the first drew there.
        var resumed = new TokenSampler(options, 5);
        Assert.Equal(straight[40..], Enumerable.Range(40, 24).Select(p => resumed.Sample(Logits, p)).ToArray());
        // Drawing the same position twice repeats the draw; different positions do not all agree.
        Assert.Equal(straight[3], fresh.Sample(Logits, 3));
        Assert.True(straight.Distinct().Count() > 1, "every position drew the same token");
    }

    [Fact]
    public void NegativePositionsAreRefused() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new TokenSampler(new SamplingOptions { Seed = 1 }, 5).Sample(Logits, -1));

    [Fact]
    public void NaNLogitsAreRefused() =>
        Assert.Throws<InvalidOperationException>(() => new TokenSampler(new SamplingOptions { Seed = 1 }, 3).Sample([0f, float.NaN, 1f], 0));

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
