using MoeRuntime.Grains;
using MoeRuntime.Model.Sampling;

namespace MoeRuntime.LoadGenerator;

/// <summary>
/// How request <c>i</c> of a run samples, the same on the cluster and in the reference. Stop tokens are
/// off so every request produces exactly the maximum number of tokens and both sides do the same work.
/// </summary>
static class RequestSampling
{
    public static SamplingParameters For(LoadOptions options, int index) => new()
    {
        Temperature = options.Temperature,
        Seed = options.Seed + (ulong)index,
        MaxTokens = options.MaxTokens,
        StopTokenIds = [],
    };

    public static SamplingOptions ReferenceFor(LoadOptions options, int index) => new()
    {
        Temperature = options.Temperature,
        Seed = options.Seed + (ulong)index,
        MaxTokens = options.MaxTokens,
        StopTokenIds = [],
    };
}
