using MoeRuntime.Grains.Diagnostics;

namespace MoeRuntime.Grains.Tests;

public class RequestLogTests
{
    [Fact]
    public void SamplingIsDecidedByTheRequestIdAndKeepsTheRatio()
    {
        string[] ids = Enumerable.Range(0, 20000).Select(i => $"request-{i}").ToArray();
        double kept = ids.Count(id => RequestLog.Sampled(id, 0.1)) / (double)ids.Length;
        Assert.InRange(kept, 0.09, 0.11);
        Assert.All(ids.Take(100), id => Assert.Equal(RequestLog.Sampled(id, 0.1), RequestLog.Sampled(id, 0.1)));
        Assert.All(ids.Take(100), id => Assert.True(RequestLog.Sampled(id, 1)));
        Assert.All(ids.Take(100), id => Assert.False(RequestLog.Sampled(id, 0)));
    }
}
